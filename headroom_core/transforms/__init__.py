"""Transforms: tool-output crushers, cache alignment and context fitting (loaded lazily)."""

from __future__ import annotations

from headroom_core._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
