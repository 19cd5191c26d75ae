"""LlamaIndex integration: retrieved-context compression and chat requests through Headroom.

- :class:`HeadroomNodePostprocessor` keeps the retrieved nodes a query needs within a token
  budget (``node_postprocessors=[...]`` of query engines, retrievers and chat engines).
- :class:`HeadroomLLM` wraps any LlamaIndex LLM so every chat request of a chat engine or an
  agent goes through the Headroom engine first.
- :class:`SentenceTransformerEmbedding` embeds an index offline with the model Headroom's
  relevance scorer uses (needs the ``relevance`` extra).
- :class:`HeadroomPostprocessEvent` and :class:`HeadroomChatOptimizeEvent` carry the savings
  to LlamaIndex instrumentation handlers.

Needs the ``llamaindex`` extra: ``pip install "headroom-langchain[llamaindex]"``.
"""

from __future__ import annotations

from headroom_core._extras import require_extra

require_extra("headroom_integrations.llamaindex", "LlamaIndex", "llamaindex", "llama_index.core")

from headroom_integrations.llamaindex.embedding import SentenceTransformerEmbedding
from headroom_integrations.llamaindex.events import (
    HeadroomChatOptimizeEvent,
    HeadroomPostprocessEvent,
)
from headroom_integrations.llamaindex.llm import HeadroomLLM
from headroom_integrations.llamaindex.postprocessor import HeadroomNodePostprocessor

__all__ = [
    "HeadroomChatOptimizeEvent",
    "HeadroomLLM",
    "HeadroomNodePostprocessor",
    "HeadroomPostprocessEvent",
    "SentenceTransformerEmbedding",
]
