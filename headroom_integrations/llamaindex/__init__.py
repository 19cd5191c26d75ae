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

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "headroom_integrations.llamaindex needs LlamaIndex; install the 'llamaindex' extra: "
        'pip install "headroom-langchain[llamaindex]"'
    ) from exc

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
