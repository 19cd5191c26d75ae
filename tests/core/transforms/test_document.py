"""DocumentCrusher on real documents: sections as units, headings kept, every gap marked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from headroom_core.retrieval import InMemoryOriginalsStore, retrieve
from headroom_core.tokenizer import count_tokens_text
from headroom_core.transforms._markdown import parse_sections
from headroom_core.transforms.document import DocumentCrusher, is_shortened_document
from headroom_core.transforms.router import ContentRouter
from tests.support.elision import assert_fences_balanced, assert_no_unmarked_gap

PROSE = Path(__file__).parents[2] / "data" / "prose"
CASES = json.loads((PROSE / "cases.json").read_text(encoding="utf-8"))
DOCUMENTS = sorted(path.name for path in PROSE.iterdir() if path.suffix in (".md", ".txt"))


def _text(name: str) -> str:
    return (PROSE / name).read_text(encoding="utf-8")


def _queries(name: str) -> list[str]:
    """The case's question, an empty one, and one quoting a heading of the document."""
    text = _text(name)
    lines = text.split("\n")
    titles = [s.title(lines) for s in parse_sections(lines) if s.heading is not None]
    quoted = [f'What does it say about "{titles[len(titles) // 2]}"?'] if titles else []
    return [CASES[name]["query"] if name in CASES else "", "", *quoted]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_shown_line_is_verbatim_every_gap_marked_every_fence_closed(name: str) -> None:
    text = _text(name)
    for query in _queries(name):
        result = DocumentCrusher(store=None).crush(text, query)
        assert_no_unmarked_gap(text, result.compressed)
        assert_fences_balanced(result.compressed)
        assert result.tokens_after <= result.tokens_before


@pytest.mark.parametrize("name", DOCUMENTS)
def test_headings_are_structure_every_one_is_shown(name: str) -> None:
    text = _text(name)
    lines = text.split("\n")
    result = DocumentCrusher(store=None).crush(text, "")
    shown = set(result.compressed.split("\n"))
    for section in parse_sections(lines):
        if section.heading is not None:
            assert lines[section.heading.start] in shown


def test_the_quoted_section_is_kept_whole_with_its_subsections() -> None:
    text = _text("yarl_METADATA.txt")
    lines = text.split("\n")
    result = DocumentCrusher(store=None).crush(text, 'What changed in "1.22.0"?')
    sections = parse_sections(lines)
    start = next(i for i, s in enumerate(sections) if s.title(lines) == "1.22.0")
    end = next(
        i for i in range(start + 1, len(sections)) if sections[i].level <= sections[start].level
    )
    whole = "\n".join(lines[sections[start].start : sections[end - 1].end + 1])
    assert whole in result.compressed
    assert "- Added arm64 Windows wheel builds" in result.compressed


@pytest.mark.parametrize("name", sorted(CASES))
def test_routed_documents_keep_what_the_question_needs_and_the_ends(name: str) -> None:
    text = _text(name)
    filled = [line for line in text.split("\n") if line.strip()]
    result = ContentRouter(store=None).route(text, query=CASES[name]["query"])
    assert result.strategy == "document"
    for needle in [*CASES[name]["needles"], filled[0], filled[-1]]:
        assert needle in result.compressed


def test_shortened_sections_come_back_whole_by_their_heading() -> None:
    store = InMemoryOriginalsStore()
    text = _text("langsmith_sandbox_README.md")
    result = DocumentCrusher(store=store).crush(text, "")
    assert result.retrieval_key and f'key "{result.retrieval_key}"' in result.compressed
    marker = next(m for m in re.finditer(r'omitted: rest of "([^"]+)"', result.compressed))
    [section] = retrieve(result.retrieval_key, query=f'"{marker[1]}"', store=store)[:1]
    assert section["section"] == marker[1]
    assert section["text"] in text


def test_small_shortened_and_unclosed_documents() -> None:
    crusher = DocumentCrusher(store=None)
    assert crusher.crush("# Title\n\nShort.").strategy == "passthrough"
    text = _text("defusedxml_METADATA.txt")
    once = crusher.crush(text, "").compressed
    assert is_shortened_document(once)
    assert crusher.crush(once, "").compressed == once  # shortening it again changes nothing
    unclosed = "# Guide\n\n" + "Some words here.\n" * 200 + "\n```python\n" + "x = 1\n" * 300
    result = crusher.crush(unclosed, "")
    assert_fences_balanced(result.compressed)
    assert_no_unmarked_gap(unclosed, result.compressed)


def test_the_answer_paragraph_survives_quoted_tool_arguments_in_the_query() -> None:
    text = _text("GPL-3.txt")
    case = CASES["GPL-3.txt"]
    query = f'{case["query"]} read_file {{"path": "GPL-3.txt"}}'  # as the tool-output step asks
    result = DocumentCrusher(store=None).crush(text, query)
    assert result.tokens_after < 0.5 * result.tokens_before
    lines = text.split("\n")
    answer = lines.index(case["needles"][1])
    paragraph = lines[lines.index(case["needles"][0]) : answer + 3]  # through "...spare parts"
    assert "\n".join(paragraph) in result.compressed


def test_the_release_the_question_names_keeps_its_headings() -> None:
    text = _text("yarl_METADATA.txt")
    query = "Which yarl release added arm64 Windows wheel builds?"
    output = DocumentCrusher(store=None).crush(text, query).compressed.split("\n")
    entry = output.index("- Added arm64 Windows wheel builds")
    assert output[entry - 3 : entry] == ["Features", "--------", ""]
    release = output.index("1.22.0")
    assert output[release + 1] == "======" and release > entry - 10  # the release above it


def test_a_document_ending_in_a_code_block_keeps_its_fences_balanced() -> None:
    doc = "# Guide\n\n" + "Words about the guide.\n" * 150 + "\n## Example\n\n```python\n"
    doc += "print('x')\n" * 120 + "```\n"
    result = DocumentCrusher(store=None).crush(doc, "what is the guide about?")
    assert result.strategy == "document"
    assert_fences_balanced(result.compressed)
    assert_no_unmarked_gap(doc, result.compressed)


def test_a_test_runs_output_keeps_every_failure_with_each_gap_marked(tmp_path: Path) -> None:
    # real output of a real run: 300 passing cases, two failing ones, no timestamps
    (tmp_path / "test_cases.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('n', range(300))\n"
        "def test_many(n):\n"
        "    assert n != 137, f'value {n} is cursed'\n\n"
        "def test_other():\n"
        "    assert {'a': 1}['a'] == 2\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "test_cases.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    output = run.stdout
    assert "2 failed, 299 passed" in output
    result = ContentRouter(store=None).route(output, query="Run the tests and fix what fails.")
    assert result.strategy == "document" and result.tokens_after < result.tokens_before / 4
    for line in output.split("\n"):
        if "FAILED" in line or line.startswith("E "):
            assert line in result.compressed.split("\n"), line
    assert_no_unmarked_gap(output, result.compressed)


def test_text_that_fits_its_target_is_left_whole(tmp_path: Path) -> None:
    # a directory listing of 15 files: every line a fact, the whole under the 600-token floor
    for number in range(15):
        (tmp_path / f"module_{number:02d}.py").write_text("x = 1\n" * number, encoding="utf-8")
    listing = subprocess.run(
        ["ls", "-la", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    crusher = DocumentCrusher(store=None)
    assert crusher.config.min_tokens_to_crush < count_tokens_text(listing) < 600
    result = crusher.crush(listing, "Why does the build fail?")
    assert not result.changed and "would keep every line" in result.reasons[0]
