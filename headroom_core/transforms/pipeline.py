"""Run transforms in order and account for what each one saved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headroom_core.errors import ConfigurationError
from headroom_core.results import TransformResult
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms.base import Transform

__all__ = ["TransformPipeline"]


class TransformPipeline:
    """Chain transforms; each receives the previous one's output.

    Every transform is idempotent, so the pipeline is too: running it on its own output changes
    nothing. The result's ``transforms_applied`` names the transforms that changed something, and
    ``details["per_transform"]`` holds ``{name, tokens_before, tokens_after, description}`` for
    each transform that ran.

    Args:
        transforms: The steps, cheapest and safest first.

    Examples:
        >>> from headroom_core.transforms import CacheAligner, RollingWindow
        >>> pipeline = TransformPipeline([CacheAligner(), RollingWindow()])
        >>> result = pipeline.transform([
        ...     {"role": "system", "content": "Today is 2025-01-06."},
        ...     {"role": "user", "content": "Hi"},
        ... ])
        >>> result.transforms_applied
        ['cache_aligner']
    """

    def __init__(self, transforms: Sequence[Transform]) -> None:
        for position, transform in enumerate(transforms):
            if not isinstance(transform, Transform):
                raise ConfigurationError(
                    f"Invalid value for transforms[{position}]: {transform!r}. "
                    "Allowed: a Transform instance.",
                    details={"field": f"transforms[{position}]", "value": repr(transform)},
                )
        self.transforms = list(transforms)

    def __repr__(self) -> str:
        return f"TransformPipeline([{', '.join(type(t).__name__ for t in self.transforms)}])"

    def transform(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tokenizer: Tokenizer | None = None,
        **context: Any,
    ) -> TransformResult:
        """Apply every transform in order; ``context`` is passed to each one's ``apply``."""
        tokenizer = tokenizer or get_tokenizer(context.get("model") or "gpt-4o")
        current = list(messages)
        tokens_before = tokenizer.count_messages(current)
        tokens = tokens_before
        applied: list[str] = []
        per_transform: list[dict[str, Any]] = []
        warnings: list[str] = []
        details: dict[str, Any] = {}
        for transform in self.transforms:
            result = transform.apply(current, tokenizer=tokenizer, **context)
            per_transform.append(
                {
                    "name": transform.name,
                    "tokens_before": tokens,
                    "tokens_after": result.tokens_after,
                    "description": result.description,
                }
            )
            details[transform.name] = result.details
            warnings.extend(result.warnings)
            if result.messages != current:
                applied.extend(result.transforms_applied or [transform.name])
            current = result.messages
            tokens = result.tokens_after
        details["per_transform"] = per_transform
        return TransformResult(
            messages=current,
            tokens_before=tokens_before,
            tokens_after=tokens,
            transforms_applied=applied,
            description="; ".join(
                f"{step['name']}: {step['description']}"
                for step in per_transform
                if step["description"]
            ),
            details=details,
            warnings=warnings,
        )
