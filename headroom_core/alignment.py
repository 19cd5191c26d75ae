"""Which optimized message came from which original, told exactly by an origin tag.

A framework adapter converts its native messages to the core's dicts, runs the engine and must
then map the output back: a message the engine left alone should go to the model as the very
same native object, one whose content was rewritten as a copy carrying the new content, and one
the engine inserted (a marker, a context note) as a new native message. Comparing texts to guess
this fails when two messages look alike or one was both shortened and moved, so each dict is
tagged with its index before the engine runs. Transforms copy a message's dict when they rewrite
it, which carries the tag along, and the messages they insert have none; the tagged dicts stay
valid input for the engine (the tokenizer ignores the int).

Examples:
    >>> originals = [
    ...     {"role": "user", "content": "Which run failed?"},
    ...     {"role": "assistant", "content": "Run 7."},
    ... ]
    >>> tagged = tag_origins(originals)
    >>> optimized = [{"role": "user", "content": "[1 earlier turn dropped]"}, tagged[1]]
    >>> [(item.origin, item.content_changed) for item in align_origins(optimized, originals)]
    [(None, True), (1, False)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["ORIGIN_KEY", "AlignedMessage", "align_origins", "restore_messages", "tag_origins"]

Native = TypeVar("Native")

ORIGIN_KEY = "headroom_origin"
"""Key of a core dict holding the index of the original message it came from."""


@dataclass(frozen=True)
class AlignedMessage:
    """One message of the engine's output and where it came from.

    Attributes:
        message: The optimized dict, without the origin tag.
        origin: Index of the original it came from; None when the engine inserted it.
        content_changed: Whether its content differs from the original's (always True for an
            inserted message).
    """

    message: dict[str, Any]
    origin: int | None
    content_changed: bool


def tag_origins(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``messages``, each carrying its index under :data:`ORIGIN_KEY`.

    Args:
        messages: Core (OpenAI-style) message dicts; they are not modified.

    Returns:
        The tagged copies, to hand to the engine in place of ``messages``.
    """
    return [{**message, ORIGIN_KEY: index} for index, message in enumerate(messages)]


def _untagged(message: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``message`` without the origin tag."""
    return {key: value for key, value in message.items() if key != ORIGIN_KEY}


def align_origins(
    optimized: Sequence[Mapping[str, Any]], originals: Sequence[Mapping[str, Any]]
) -> list[AlignedMessage]:
    """Say, for each message of the engine's output, which original it came from.

    A tag counts only when it names an original not claimed by an earlier output message and
    the message still matches that original in everything but its content (role, tool calls,
    tool-call id, name): a transform may rewrite content, never what pairs tool calls with their
    results. Anything else is treated as inserted, so an adapter never dresses a new message in
    an original's identity.

    Args:
        optimized: The engine's output for ``tag_origins(originals)``.
        originals: The dicts that were tagged (tagged or not; the tag is ignored).

    Returns:
        One :class:`AlignedMessage` per optimized dict, in order. Originals no output message
        names were dropped.
    """
    claimed: set[int] = set()
    aligned = []
    for message in optimized:
        clean = _untagged(message)
        origin = message.get(ORIGIN_KEY)
        if (
            isinstance(origin, int)
            and not isinstance(origin, bool)
            and 0 <= origin < len(originals)
            and origin not in claimed
            and _same_identity(clean, originals[origin])
        ):
            claimed.add(origin)
            changed = clean.get("content") != originals[origin].get("content")
            aligned.append(AlignedMessage(clean, origin, changed))
        else:
            aligned.append(AlignedMessage(clean, None, True))
    return aligned


def restore_messages(
    optimized: Sequence[Mapping[str, Any]],
    converted: Sequence[Mapping[str, Any]],
    originals: Sequence[Native],
    *,
    rewrite: Callable[[Native, dict[str, Any]], Native],
    build: Callable[[dict[str, Any]], Native],
) -> list[Native]:
    """The engine's output as an adapter's native messages, reusing the originals.

    Args:
        optimized: The engine's output for ``tag_origins(converted)``.
        converted: The core dicts of ``originals``, one per original.
        originals: The native messages that went in.
        rewrite: Makes a copy of a native original carrying the content of the optimized dict.
        build: Makes a native message from a dict the engine inserted.

    Returns:
        One native message per optimized dict: the original object itself where the engine left
        it alone, ``rewrite(original, message)`` where it changed the content and
        ``build(message)`` where it inserted the message.
    """
    restored = []
    for item in align_origins(optimized, converted):
        if item.origin is None:
            restored.append(build(item.message))
        elif item.content_changed:
            restored.append(rewrite(originals[item.origin], item.message))
        else:
            restored.append(originals[item.origin])
    return restored


def _same_identity(message: Mapping[str, Any], original: Mapping[str, Any]) -> bool:
    """Whether the two agree on every key but the content and the tag."""
    ignored = ("content", ORIGIN_KEY)
    keys = (set(message) | set(original)).difference(ignored)
    return all(message.get(key) == original.get(key) for key in keys)
