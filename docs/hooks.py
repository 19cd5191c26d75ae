"""MkDocs hook: the benchmark plots are published from ``benchmarks/results``, where the
benchmarks write them, so the site never shows a copy older than the tables beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def on_files(files: Files, config: Any) -> Files:
    """Add each plot as ``benchmarks/<name>.png`` of the built site."""
    for plot in sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"benchmarks/{plot.name}", abs_src_path=str(plot)))
    return files
