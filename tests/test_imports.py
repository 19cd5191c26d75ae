"""The public surface: every name of the API reference is exported, and importing the core stays
light (no framework, model or web-server import)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import headroom_core

# The Python names of the API reference (``from headroom import X`` there).
SEED_NAMES = {
    "HeadroomClient",
    "HeadroomEngine",
    "compress",
    "generate_report",
    "MetricsStore",
    "HeadroomConfig",
    "SmartCrusherConfig",
    "LineCrusherConfig",
    "CacheAlignerConfig",
    "RollingWindowConfig",
    "IntelligentContextConfig",
    "ScoringWeights",
    "RelevanceScorerConfig",
    "RetrievalConfig",
    "CompressResult",
    "RequestMetrics",
    "SimulationResult",
    "TransformResult",
    "WasteSignals",
    "AnthropicProvider",
    "GoogleProvider",
    "OpenAIProvider",
    "Tokenizer",
    "count_tokens_messages",
    "count_tokens_text",
    "BM25Scorer",
    "EmbeddingScorer",
    "HybridScorer",
    "create_scorer",
    "embedding_available",
    "SmartCrusher",
    "LineCrusher",
    "ContentRouter",
    "CacheAligner",
    "RollingWindow",
    "IntelligentContextManager",
    "TransformPipeline",
    "HeadroomError",
    "ConfigurationError",
    "ProviderError",
    "StorageError",
    "CompressionError",
    "ValidationError",
    "TokenizationError",
    "CacheError",
    "TransformError",
}


def test_exports_match_the_api_reference() -> None:
    assert set(headroom_core.__all__) == SEED_NAMES | {"__version__"}
    assert sorted(dir(headroom_core)) == sorted(headroom_core.__all__)


@pytest.mark.parametrize("name", sorted(SEED_NAMES))
def test_every_public_name_imports(name: str) -> None:
    module = headroom_core._EXPORTS[name]
    value = getattr(headroom_core, name)
    assert value is getattr(importlib.import_module(module), name)
    exec(f"from headroom_core import {name}", {})


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        headroom_core.NoSuchThing  # noqa: B018


def test_version_is_a_string() -> None:
    assert isinstance(headroom_core.__version__, str) and headroom_core.__version__


FORBIDDEN = (
    "langchain",
    "langchain_core",
    "langgraph",
    "llama_index",
    "headroom_integrations",
    "sentence_transformers",
    "transformers",
    "torch",
    "fastapi",
    "uvicorn",
    "starlette",
)


def _modules_loaded_by(code: str) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import headroom_core; import headroom_core.tokenizer",
        "from headroom_core import Tokenizer, HeadroomConfig, BM25Scorer, create_scorer",
        "from headroom_core.relevance import BM25Scorer; BM25Scorer().score_items(['a b'], 'a')",
        "from headroom_core.retrieval import retrieve, InMemoryOriginalsStore",
    ],
)
def test_the_core_imports_no_framework_model_or_server(code: str) -> None:
    loaded = _modules_loaded_by(code)
    leaked = sorted(name for name in loaded if name.split(".")[0] in FORBIDDEN)
    assert leaked == []


@pytest.mark.parametrize(
    "name", sorted(importlib.import_module("headroom_core.transforms").__all__)
)
def test_every_transform_name_imports(name: str) -> None:
    transforms = importlib.import_module("headroom_core.transforms")
    assert getattr(transforms, name) is getattr(
        importlib.import_module(transforms._EXPORTS[name]), name
    )
