"""The documentation site: it builds with ``mkdocs build --strict`` (no broken link, no missing
reference), every public name is in the API reference, and every Python example runs and prints
what the page shows (see ``tests/support/examples.py``)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.examples import Example, commands_in, examples_in, run_example, run_page

pytest.importorskip("mkdocs", reason="the 'docs' extra is not installed")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = [example for page in sorted(DOCS.rglob("*.md")) for example in examples_in(page, ROOT)]
PUBLIC_MODULES = (
    "headroom_core",
    "headroom_integrations.langchain",
    "headroom_integrations.llamaindex",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-5000:]
    return out


@pytest.mark.slow
def test_the_site_builds_strictly_with_every_page(site: Path) -> None:
    pages = {path.relative_to(DOCS).with_suffix("").as_posix() for path in DOCS.rglob("*.md")}
    for page in pages:
        built = site / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.is_file(), f"{page} was not built"
    assert (site / "benchmarks" / "summary.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_is_in_the_reference(site: Path, module: str) -> None:
    reference = "\n".join(
        path.read_text(encoding="utf-8") for path in (site / "reference").rglob("*.html")
    )
    anchors = set(re.findall(r'id="([\w.]+)"', reference))
    names = {anchor.rsplit(".", 1)[-1] for anchor in anchors}
    missing = [name for name in importlib.import_module(module).__all__ if name not in names]
    assert not [name for name in missing if name != "__version__"], missing


def test_the_pages_have_runnable_examples_with_their_output() -> None:
    assert len(EXAMPLES) >= 30
    assert sum(example.output is not None for example in EXAMPLES) >= 15


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.where for example in EXAMPLES])
def test_docs_example_runs_and_prints_what_it_shows(example: Example, tmp_path: Path) -> None:
    run_example(example, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [page for page in sorted(DOCS.rglob("*.md")) if commands_in(page, ROOT)],
    ids=lambda page: page.relative_to(ROOT).as_posix(),
)
def test_the_headroom_commands_a_page_shows_print_what_it_shows(
    page: Path, tmp_path: Path
) -> None:
    run_page(page, ROOT, tmp_path)
