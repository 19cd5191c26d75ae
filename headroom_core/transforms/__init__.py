"""Transforms: tool-output crushers, cache alignment and context fitting (loaded lazily)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "Transform": "headroom_core.transforms.base",
    "SmartCrusher": "headroom_core.transforms.smart_crusher",
    "CrushResult": "headroom_core.transforms.smart_crusher",
    "LineCrusher": "headroom_core.transforms.line_crusher",
    "CodeOutliner": "headroom_core.transforms.code_outline",
    "ContentRouter": "headroom_core.transforms.router",
    "ToolOutputCompressor": "headroom_core.transforms.tool_outputs",
    "CacheAligner": "headroom_core.transforms.cache_aligner",
    "RollingWindow": "headroom_core.transforms.rolling_window",
    "IntelligentContextManager": "headroom_core.transforms.intelligent_context",
    "ToolImportanceLearner": "headroom_core.transforms.toin",
    "TransformPipeline": "headroom_core.transforms.pipeline",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'headroom_core.transforms' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
