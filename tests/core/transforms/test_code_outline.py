"""CodeOutliner: outlines of real source files keep what the question needs, verbatim."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from headroom_core.config import LineCrusherConfig
from headroom_core.errors import ConfigurationError, TransformError
from headroom_core.retrieval import InMemoryOriginalsStore, retrieve
from headroom_core.transforms._code.blocks import definition_name
from headroom_core.transforms._code.focus import CodeFocus
from headroom_core.transforms.code_outline import CodeOutliner, is_outline

DATA = Path(__file__).resolve().parents[2] / "data" / "code"
DECODER = (DATA / "json_decoder.py.txt").read_text(encoding="utf-8")
TEXTWRAP = (DATA / "textwrap.py.txt").read_text(encoding="utf-8")
RUN_RE = re.compile(
    r"^\s*\.\.\. \[lines (\d+)-(\d+) omitted: (?:(?:body|part) of \w+|top-level code)\]$"
)


def definitions(source: str) -> dict[str, ast.AST]:
    tree = ast.parse(source)
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def lines_of(source: str, name: str) -> list[str]:
    node = definitions(source)[name]
    return source.split("\n")[node.lineno - 1 : node.end_lineno]  # type: ignore[attr-defined]


def restore(outline: str, original: str) -> str:
    """The original, rebuilt from the outline's verbatim lines and its markers' line ranges."""
    source = original.split("\n")
    out: list[str] = []
    for line in outline.split("\n")[:-1]:  # the last line is the closing marker
        run = RUN_RE.match(line)
        out.extend(source[int(run[1]) - 1 : int(run[2])] if run else [line])
    return "\n".join(out)


@pytest.fixture
def store() -> InMemoryOriginalsStore:
    return InMemoryOriginalsStore()


@pytest.fixture
def outliner(store: InMemoryOriginalsStore) -> CodeOutliner:
    return CodeOutliner(store=store)


@pytest.mark.parametrize(
    ("source", "query"),
    [
        (DECODER, "what does py_scanstring return?"),
        (DECODER, ""),
        (TEXTWRAP, "How does TextWrapper._wrap_chunks handle long words?"),
    ],
)
def test_kept_lines_are_verbatim_and_markers_name_the_lines_they_replace(
    outliner: CodeOutliner, source: str, query: str
) -> None:
    result = outliner.outline(source, query)

    assert result.strategy == "code_outline"
    assert result.tokens_after <= 0.75 * result.tokens_before
    assert restore(result.compressed, source) == source
    assert is_outline(result.compressed)
    markers = [line for line in result.compressed.split("\n")[:-1] if "omitted:" in line]
    assert markers and all(RUN_RE.match(line) for line in markers)
    assert len(result.kept_indices) + len(result.dropped_indices) == len(source.split("\n"))


def test_the_function_the_query_names_is_kept_whole(outliner: CodeOutliner) -> None:
    result = outliner.outline(DECODER, "what does py_scanstring return?")

    body = "\n".join(lines_of(DECODER, "py_scanstring"))
    assert body in result.compressed
    assert "    return ''.join(chunks), end" in result.compressed.split("\n")
    assert "JSONObject" in result.compressed  # others keep their signature ...
    assert "\n".join(lines_of(DECODER, "JSONObject")) not in result.compressed  # ... not body


@pytest.mark.parametrize(
    "query", ["JSONDecoder.raw_decode: what is returned?", "what does rawDecode do", "`raw_decode`"]
)
def test_dotted_camel_and_quoted_names_find_the_block(outliner: CodeOutliner, query: str) -> None:
    result = outliner.outline(DECODER, query)

    assert "\n".join(lines_of(DECODER, "raw_decode")) in result.compressed


def test_lines_matching_a_quoted_phrase_keep_their_block(outliner: CodeOutliner) -> None:
    result = outliner.outline(DECODER, "where is 'Expecting property name enclosed' raised?")

    assert "\n".join(lines_of(DECODER, "JSONObject")) in result.compressed


def test_without_a_query_signatures_docstrings_and_ends_stay(outliner: CodeOutliner) -> None:
    result = outliner.outline(TEXTWRAP, "")
    kept = result.compressed.split("\n")
    source = TEXTWRAP.split("\n")

    for node in definitions(TEXTWRAP).values():
        assert source[node.lineno - 1] in kept  # type: ignore[attr-defined]
        docstring = ast.get_docstring(node, clean=False)  # type: ignore[arg-type]
        if docstring and docstring.strip():
            summary = next(line for line in docstring.split("\n") if line.strip()).strip()
            assert any(summary in line for line in kept), summary
    assert kept[:5] == source[:5]
    assert kept[-6:-1] == source[-5:]


def test_retrieval_key_returns_the_omitted_lines(
    outliner: CodeOutliner, store: InMemoryOriginalsStore
) -> None:
    result = outliner.outline(DECODER, "what does py_scanstring return?")
    source = DECODER.split("\n")

    assert result.retrieval_key and f'"{result.retrieval_key}"' in result.compressed
    items = retrieve(result.retrieval_key, store=store)
    runs = [RUN_RE.match(line) for line in result.compressed.split("\n")]
    ranges = [f"{run[1]}-{run[2]}" for run in runs if run]
    assert [item["lines"] for item in items] == ranges
    for item in items:
        start, end = map(int, item["lines"].split("-"))
        assert item["code"] == "\n".join(source[start - 1 : end])
    found = retrieve(result.retrieval_key, query="memo_get", store=store)
    assert found and "memo_get" in found[0]["code"]


def test_retrieval_off_stores_nothing_and_names_no_key() -> None:
    result = CodeOutliner(store=None).outline(DECODER, "py_scanstring")

    assert result.changed and result.retrieval_key is None
    assert "headroom_retrieve" not in result.compressed


def test_outlining_an_outline_changes_nothing(outliner: CodeOutliner) -> None:
    outline = outliner.outline(DECODER, "py_scanstring").compressed
    eager = CodeOutliner(LineCrusherConfig(code_min_tokens=0), store=None)

    again = eager.outline(outline, "py_scanstring")
    assert not again.changed and again.compressed == outline
    assert "already an outline" in again.reasons


def test_small_code_passes_through(outliner: CodeOutliner) -> None:
    small = "\n".join(lines_of(DECODER, "JSONArray"))

    result = outliner.outline(small, "JSONArray")
    assert not result.changed and result.compressed == small
    assert "below line_crusher.code_min_tokens" in result.reasons


def test_an_outline_saving_too_little_is_not_used() -> None:
    config = LineCrusherConfig(code_min_savings=0.9)

    result = CodeOutliner(config, store=None).outline(DECODER, "py_scanstring JSONObject")
    assert not result.changed and result.compressed == DECODER


def test_minified_code_passes_through(outliner: CodeOutliner) -> None:
    minified = ";".join(line.strip() for line in DECODER.split("\n") if line.strip())

    result = outliner.outline(minified, "py_scanstring")
    assert not result.changed and "minified or very long lines" in result.reasons


def test_refuses_what_is_not_text(outliner: CodeOutliner) -> None:
    with pytest.raises(TransformError, match="needs text"):
        outliner.outline(b"def f(): pass", "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("func (r *Repo) GetPulls(ctx context.Context) ([]*Pull, error) {", "GetPulls"),
        ("pub fn parse_header(input: &str) -> Result<Header, Error> {", "parse_header"),
        ("    public static List<String> getRepo(String name) throws IOException {", "getRepo"),
        ("export async function fetchData(url: string): Promise<Data> {", "fetchData"),
        ("export const handler = async (event) => {", "handler"),
        ("std::vector<int> Foo::bar(int x) const {", "bar"),
        ("public function getRepo($name) {", "getRepo"),
        ("  def get_repo(name)", "get_repo"),
        ("type Config struct {", "Config"),
        ("    foo(bar, baz);", None),
        ("  } else if (ready) {", None),
        ("    struct outd outd;           /* output structure */", None),
        ("    default:", None),
    ],
)
def test_definition_lines_across_languages(line: str, name: str | None) -> None:
    assert definition_name(line) == name


def test_a_long_named_block_keeps_its_head_and_error_lines(outliner: CodeOutliner) -> None:
    result = outliner.outline(TEXTWRAP, "What does TextWrapper raise for a bad width?")
    kept = result.compressed.split("\n")
    block = lines_of(TEXTWRAP, "TextWrapper")

    assert len(block) > 200 and "\n".join(block) not in result.compressed
    assert block[:10] == kept[kept.index(block[0]) : kept.index(block[0]) + 10]
    raises = [line for line in block if line.strip().startswith("raise ValueError")]
    assert raises and all(line in kept for line in raises)


def test_a_long_named_block_made_long_by_its_docstring_keeps_all_its_code(
    outliner: CodeOutliner,
) -> None:
    options = "\n".join(
        f"        option_{n} (int): how many retries step {n} allows before it gives up;\n"
        "            the default is three."
        for n in range(120)
    )
    code = "\n".join(
        f"    retries_{n} = max(0, int(options.get('option_{n}', 3)))" for n in range(30)
    )
    function = (
        "def configure(**options):\n"
        f'    """Check the options of a run.\n\n    Args:\n{options}\n    """\n'
        "    # a negative count means no retry at all\n"
        f"{code}\n"
        "    return [retries_0, retries_29]\n"
    )
    source = TEXTWRAP + "\n\n" + function
    result = outliner.outline(source, "How is `configure` implemented? Quote the code.")
    block = lines_of(source, "configure")
    docstring_end = block.index('    """', 1)

    assert len(block) > 200 and "\n".join(block) not in result.compressed
    kept = result.compressed.split("\n")
    assert all(line in kept for line in block[docstring_end:])
    assert restore(result.compressed, source) == source


def test_a_token_budget_tightens_the_outline_and_the_named_block_stays_whole(
    outliner: CodeOutliner,
) -> None:
    query = "How does `dedent` work?"
    normal = outliner.outline(DECODER + "\n\n" + TEXTWRAP, query)
    block = "\n".join(lines_of(TEXTWRAP, "dedent"))
    assert block in normal.compressed
    sizes = [normal.tokens_after]
    for share in (0.6, 0.3, 0.1):
        budget = int(normal.tokens_after * share)
        tight = outliner.outline(DECODER + "\n\n" + TEXTWRAP, query, token_budget=budget)
        assert block in tight.compressed  # the block asked about, whole at every step
        assert restore(tight.compressed, DECODER + "\n\n" + TEXTWRAP) == DECODER + "\n\n" + TEXTWRAP
        sizes.append(tight.tokens_after)
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < sizes[0] / 2


def test_dotted_names_count_even_when_the_word_is_common() -> None:
    assert CodeFocus.of("What does subprocess.run return?").names_block("run")
    assert not CodeFocus.of("how do I run it").names_block("run")
    assert CodeFocus.of("getRepo").names_block("get_repo")


def test_code_without_definitions_passes_through() -> None:
    body = "\n".join(line[4:] for line in lines_of(DECODER, "py_scanstring")[10:])
    eager = CodeOutliner(LineCrusherConfig(code_min_tokens=0), store=None)

    result = eager.outline(body, "what does it return?")
    assert not result.changed and "no definitions to outline" in result.reasons


def test_a_numbered_listing_is_outlined_by_its_code_and_keeps_its_numbers(
    outliner: CodeOutliner,
) -> None:
    listing = "\n".join(f"{n:6d}\t{line}" for n, line in enumerate(DECODER.split("\n"), 101))

    result = outliner.outline(listing, "what does py_scanstring return?")
    node = definitions(DECODER)["py_scanstring"]
    numbered = listing.split("\n")[node.lineno - 1 : node.end_lineno]  # type: ignore[attr-defined]
    assert result.changed and "\n".join(numbered) in result.compressed
    first_run = next(
        RUN_RE.match(line) for line in result.compressed.split("\n") if RUN_RE.match(line)
    )
    start, end = int(first_run[1]), int(first_run[2])
    assert start > 100 and f"{start - 1:6d}\t" in result.compressed  # the listing's own numbers
    assert f"{start:6d}\t" not in result.compressed and f"{end:6d}\t" not in result.compressed


def test_brace_code_keeps_the_named_method_of_the_named_class(outliner: CodeOutliner) -> None:
    php = (DATA / "entity_pb.php.txt").read_text(encoding="utf-8")
    source = php.split("\n")

    result = outliner.outline(php, "What does mergeFrom do in class PathElement?")
    kept = result.compressed.split("\n")
    assert result.changed and restore(result.compressed, php) == php
    headers = [i for i, line in enumerate(source) if "public function mergeFrom(" in line]
    assert len(headers) > 3 and all(source[i] in kept for i in headers)
    owner = max(i for i, line in enumerate(source) if "class PathElement " in line)
    chosen = min(i for i in headers if i > owner)
    body = source[chosen : source.index("    }", chosen) + 1]
    assert "\n".join(body) in result.compressed
    whole = [
        i
        for i in headers
        if "\n".join(source[i : source.index("    }", i) + 1]) in result.compressed
    ]
    assert chosen in whole and len(whole) < len(headers)  # not every class's mergeFrom


def test_file_names_in_the_query_name_no_definition() -> None:
    focus = CodeFocus.of('read_file {"path": "Repository.py"} How does get_pulls page?')
    assert not focus.names_block("Repository")
    assert focus.names_block("get_pulls")


@pytest.mark.parametrize(
    ("field", "value"), [("code_mode", "summary"), ("code_min_tokens", -1), ("code_min_savings", 2)]
)
def test_code_settings_are_validated(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field):
        LineCrusherConfig(**{field: value})
