"""The dated model catalogue: context windows, encodings and prices from ``data/models.json``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from rapidfuzz import process

from headroom_core.errors import ProviderError

__all__ = [
    "ModelInfo",
    "catalogue",
    "closest_models",
    "find_model",
    "prices_as_of",
    "require_model",
]


_BEDROCK_PREFIX = re.compile(r"^(?:[a-z]{2}\.)?(?:anthropic|google|openai)\.")
# One dash-separated part of a release tag: a date or version number ("2024", "0613", "16k"),
# "latest", "preview", "exp", or a Bedrock version ("v1:0").
_RELEASE_TOKEN = re.compile(r"\d+k?|latest|preview|exp|v\d+(?::\d+)?")
_DEFAULT_HINT = (
    "Pass fallback_context_limit (and fallback_encoding) to the provider to use it anyway."
)


@dataclass(frozen=True)
class ModelInfo:
    """What Headroom knows about one model family."""

    name: str
    provider: str
    context_window: int
    max_output_tokens: int
    encoding: str | None
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None


@lru_cache(maxsize=1)
def _load() -> tuple[str, dict[str, ModelInfo]]:
    raw = json.loads((resources.files("headroom_core") / "data" / "models.json").read_text("utf-8"))
    models = {name: ModelInfo(name=name, **fields) for name, fields in raw["models"].items()}
    return raw["prices_as_of"], models


def catalogue() -> dict[str, ModelInfo]:
    """Every known model family by name."""
    return _load()[1]


def prices_as_of() -> str:
    """The date the catalogue's prices were read."""
    return _load()[0]


def _normalise(model: str) -> str:
    name = model.strip().lower()
    if "/" in name:  # "openai/gpt-4o", "anthropic/claude-..."
        name = name.rsplit("/", 1)[1]
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    # Bedrock ids: "anthropic.claude-...-v1:0", with an optional region prefix ("us.", "eu.")
    return _BEDROCK_PREFIX.sub("", name)


def find_model(model: str, provider: str | None = None) -> ModelInfo | None:
    """Resolve a model name (dated, aliased or prefixed) to its family, or None.

    A name is a variant of a catalogue name only when what follows it is a release tag
    (``gpt-4o-2024-08-06``, ``claude-3-5-sonnet-v2@20241022``): ``gpt-5-ultra`` is another
    model, and pricing it as ``gpt-5`` would be a silent guess.
    """
    name = _normalise(model)
    models = catalogue()
    candidates = [info for info in models.values() if provider is None or info.provider == provider]
    best: ModelInfo | None = None
    for info in candidates:
        if name == info.name:
            return info
        is_variant = name.startswith(info.name) and _is_release_tag(name[len(info.name) :])
        if is_variant and (best is None or len(info.name) > len(best.name)):
            best = info
    return best


def _is_release_tag(suffix: str) -> bool:
    """Whether ``suffix`` (what follows a catalogue name) only names a release of that model:
    dash-separated dates, versions and tags, then an optional ``@`` stamp (Vertex AI)."""
    tagged, at, stamp = suffix.partition("@")
    if at and not _all_release_tokens(stamp):
        return False
    if not tagged:
        return bool(at)
    return tagged.startswith("-") and _all_release_tokens(tagged[1:])


def _all_release_tokens(text: str) -> bool:
    return all(_RELEASE_TOKEN.fullmatch(part) for part in text.split("-"))


def closest_models(model: str, provider: str | None = None, limit: int = 3) -> list[str]:
    """The known names nearest to ``model`` (for error messages)."""
    names = [
        info.name for info in catalogue().values() if provider is None or info.provider == provider
    ]
    return [match for match, _score, _ in process.extract(_normalise(model), names, limit=limit)]


def require_model(model: str, provider: str | None = None, *, hint: str | None = None) -> ModelInfo:
    """Like :func:`find_model` but raise a :class:`ProviderError` naming the closest models.

    ``hint`` says how to use an unknown model anyway (by default: the provider's fallbacks).
    """
    info = find_model(model, provider)
    if info is None:
        suggestions = closest_models(model, provider)
        raise ProviderError(
            f"Unknown model {model!r}. Closest known models: {', '.join(suggestions)}. "
            f"{hint or _DEFAULT_HINT}",
            details={"model": model, "provider": provider, "suggestions": suggestions},
        )
    return info
