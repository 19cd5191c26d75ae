"""Helpers over LlamaIndex nodes: the text the LLM sees and safe copies.

Retrievers may hand out node objects shared with a docstore, so nothing here mutates a node:
changes are made on copies.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import BaseNode, MetadataMode

__all__ = ["METADATA_KEY", "body_text", "llm_text", "revised_copy"]

METADATA_KEY = "headroom"
"""Metadata key holding what Headroom did to a node; hidden from the LLM and the embedder."""


def llm_text(node: BaseNode) -> str:
    """The node as a response synthesizer puts it into the prompt (metadata header + text)."""
    return node.get_content(metadata_mode=MetadataMode.LLM)


def body_text(node: BaseNode) -> str:
    """The node's own text, without the metadata header."""
    return node.get_content(metadata_mode=MetadataMode.NONE)


def revised_copy(node: BaseNode, *, text: str | None = None, note: dict[str, Any]) -> BaseNode:
    """A deep copy of ``node`` with new text (when given) and ``note`` under :data:`METADATA_KEY`.

    Id, other metadata and relationships are kept; the note is excluded from LLM and embedding
    content, so it never changes what the model reads or how the node embeds.
    """
    copy = node.model_copy(deep=True)
    if text is not None:
        copy.set_content(text)
    existing = copy.metadata.get(METADATA_KEY)
    copy.metadata[METADATA_KEY] = {**existing, **note} if isinstance(existing, dict) else note
    for excluded in (copy.excluded_llm_metadata_keys, copy.excluded_embed_metadata_keys):
        if METADATA_KEY not in excluded:
            excluded.append(METADATA_KEY)
    return copy
