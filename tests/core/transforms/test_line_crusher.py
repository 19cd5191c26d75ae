"""LineCrusher on real logs and grep output (tests/data/lines, from loghub and PyGithub)."""

from __future__ import annotations

import inspect
import json
import re
import traceback
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headroom_core.config import LineCrusherConfig
from headroom_core.errors import TransformError
from headroom_core.relevance import create_scorer, embedding_available
from headroom_core.retrieval import InMemoryOriginalsStore, default_originals_store, retrieve
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms import LineCrusher
from headroom_core.transforms._lines.severity import is_problem_line, problem_flags
from headroom_core.transforms._lines.templates import template_of, templates_of

DATA = Path(__file__).resolve().parents[2] / "data" / "lines"
CASES = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))
MARKER = re.compile(r"^\[\d+ of \d+ lines omitted; ")
NOTE = re.compile(r"  \[(?:x\d+ similar lines|\+\d+ more hits? in this file)[^\]]*\]$")


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture
def store() -> InMemoryOriginalsStore:
    return InMemoryOriginalsStore()


@pytest.fixture
def crusher(store: InMemoryOriginalsStore) -> LineCrusher:
    return LineCrusher(store=store)


def output_lines(compressed: str) -> list[str]:
    """The crushed output's lines without the closing marker and without notes / run counts."""
    lines = [line for line in compressed.split("\n") if not MARKER.match(line)]
    return [re.sub(r" \(x\d+\)$", "", NOTE.sub("", line)) for line in lines]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_needle_survives_and_output_is_smaller(crusher: LineCrusher, name: str) -> None:
    case = CASES[name]
    result = crusher.crush(read(name), case["query"])
    missing = [
        needle["text"] for needle in case["needles"] if needle["text"] not in result.compressed
    ]
    assert missing == []
    assert result.tokens_after <= result.tokens_before


@pytest.mark.parametrize(
    "name", ["hdfs.log", "apache.log", "android.log", "linux.log", "windows.log"]
)
def test_kept_lines_are_verbatim_input_lines(crusher: LineCrusher, name: str) -> None:
    text = read(name)
    result = crusher.crush(text, CASES[name]["query"])
    assert result.strategy == "line_crusher"
    lines = text.split("\n")
    shown = output_lines(result.compressed)
    assert all(line in set(lines) for line in shown)
    assert {lines[i] for i in result.kept_indices} == set(shown)


def test_every_distinct_error_is_kept_verbatim(crusher: LineCrusher) -> None:
    text = read("apache.log")
    result = crusher.crush(text)
    error_messages = {line.split("] ", 2)[2] for line in text.split("\n") if "[error]" in line}
    assert error_messages  # the sample holds errors
    for message in error_messages:
        assert any(
            line.endswith(message) or message in line for line in result.compressed.split("\n")
        )


def test_repeated_templates_collapse_with_count_and_range(crusher: LineCrusher) -> None:
    text = read("hdfs.log")
    pattern = re.compile(r"PacketResponder (\d+) for block blk_-?\d+ terminating$")
    matches = [pattern.search(line) for line in text.split("\n")]
    responders = [int(m.group(1)) for m in matches if m]
    result = crusher.crush(text)
    noted = [
        line
        for line in result.compressed.split("\n")
        if pattern.search(NOTE.sub("", line)) and "[x" in line
    ]
    assert len(noted) == 1
    assert f"[x{len(responders)} similar lines" in noted[0]
    assert f"{min(responders)}..{max(responders)}" in noted[0]


def test_rare_lines_are_kept(crusher: LineCrusher) -> None:
    text = read("hdfs.log")
    rare = [line for line in text.split("\n") if "Deleting block" in line]
    assert len(rare) == 1
    assert rare[0] in crusher.crush(text).compressed.split("\n")


def test_query_lines_are_kept_verbatim(crusher: LineCrusher) -> None:
    text = read("hdfs.log")
    asked = [line for line in text.split("\n") if "Verification succeeded for" in line]
    result = crusher.crush(text, "When did 'Verification succeeded for' happen?")
    assert asked and all(line in result.compressed.split("\n") for line in asked)


def test_dropped_lines_come_back_by_key(
    crusher: LineCrusher, store: InMemoryOriginalsStore
) -> None:
    text = read("linux.log")
    lines = text.split("\n")
    result = crusher.crush(text)
    assert result.retrieval_key and f'"{result.retrieval_key}"' in result.compressed
    assert store.get(result.retrieval_key) == [lines[i] for i in result.dropped_indices]
    assert sorted(result.kept_indices + result.dropped_indices) == list(range(len(lines)))
    assert retrieve(result.retrieval_key, store=store) == [lines[i] for i in result.dropped_indices]
    found = retrieve(result.retrieval_key, query="authentication failure", store=store)
    assert found and "authentication failure" in found[0]


def test_without_a_store_nothing_is_stored_and_the_marker_names_no_key(
    crusher: LineCrusher,
) -> None:
    text = read("linux.log").replace(" combo ", " combo-without-store ")  # lines no test stores
    with_store = crusher.crush(text)
    result = LineCrusher(store=None).crush(text)

    assert result.retrieval_key is None
    assert result.compressed.split("\n")[:-1] == with_store.compressed.split("\n")[:-1]
    marker = result.compressed.split("\n")[-1]
    assert marker.startswith(f"[{len(result.dropped_indices)} of {len(text.split(chr(10)))} lines")
    assert "headroom_retrieve" not in result.compressed and "key" not in marker
    assert default_originals_store().get(with_store.retrieval_key) is None


def test_identical_runs_fold_losslessly(crusher: LineCrusher) -> None:
    lines = read("apache.log").split("\n")[:40]
    text = "\n".join(line for line in lines for _ in range(3))
    result = crusher.crush(text)
    assert result.reasons[0].startswith("lossless")
    assert result.retrieval_key is None and result.dropped_indices == []
    assert result.compressed.split("\n")[0] == f"{lines[0]} (x3)"


def test_search_hits_grouped_by_file_with_definition_kept(crusher: LineCrusher) -> None:
    text = read("grep_requester.txt")
    result = crusher.crush(text, "Where is Requester defined, and where is it used?", max_lines=10)
    assert "github/Requester.py:285:class Requester:" in result.compressed.split("\n")
    assert "more hits in this file: lines" in result.compressed
    files = {line.split(":", 1)[0] for line in text.split("\n") if line}
    assert all(path in result.compressed for path in files)


def test_crushing_twice_changes_nothing(crusher: LineCrusher) -> None:
    first = crusher.crush(read("android.log"), CASES["android.log"]["query"])
    second = crusher.crush(first.compressed, CASES["android.log"]["query"])
    assert second.strategy == "passthrough"
    assert second.compressed == first.compressed


def test_token_budget_tightens_the_output(crusher: LineCrusher) -> None:
    text = read("android.log")
    loose = crusher.crush(text)
    tight = crusher.crush(text, token_budget=loose.tokens_after // 2)
    assert tight.tokens_after < loose.tokens_after


def test_near_duplicate_templates_merge() -> None:
    text = read("android.log")
    exact = LineCrusher(
        LineCrusherConfig(similarity_threshold=100), store=InMemoryOriginalsStore()
    ).crush(text)
    fuzzy = LineCrusher(
        LineCrusherConfig(similarity_threshold=85), store=InMemoryOriginalsStore()
    ).crush(text)
    assert fuzzy.tokens_after < exact.tokens_after


def test_small_output_passes_through(crusher: LineCrusher) -> None:
    text = "\n".join(read("apache.log").split("\n")[:3])
    result = crusher.crush(text)
    assert result.strategy == "passthrough" and result.compressed == text
    assert result.tokens_before == get_tokenizer().count_text(text)


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["a"]])
def test_non_text_raises_transform_error(crusher: LineCrusher, bad: object) -> None:
    with pytest.raises(TransformError, match="needs text"):
        crusher.crush(bad)  # type: ignore[arg-type]


def test_binary_garbage_passes_through(crusher: LineCrusher) -> None:
    garbage = bytes(range(256)).decode("latin-1") * 50
    result = crusher.crush(garbage)
    assert result.strategy == "passthrough" and result.compressed == garbage
    assert "binary" in result.reasons[0]


def test_above_the_size_cap_the_line_crusher_refuses_without_counting(
    crusher: LineCrusher,
) -> None:
    from headroom_core.transforms.line_crusher import MAX_CRUSH_CHARS

    log = read("linux.log")
    text = (log * (MAX_CRUSH_CHARS // len(log) + 1))[: MAX_CRUSH_CHARS + 1]
    result = crusher.crush(text)
    assert result.compressed == text and "too large" in result.reasons[0]


def _real_traceback() -> list[str]:
    try:
        json.loads("{broken")
    except ValueError:
        return traceback.format_exc().rstrip("\n").split("\n")
    raise AssertionError("json.loads accepted broken input")


def test_traceback_lines_survive_among_repeated_lines(crusher: LineCrusher) -> None:
    frames = _real_traceback()
    log = read("hdfs.log").split("\n")
    text = "\n".join([*log[:70], *frames, *log[70:]])
    result = crusher.crush(text)
    kept = result.compressed.split("\n")
    assert all(line in kept for line in frames if line.strip())


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Traceback (most recent call last):", True),
        ('  File "/srv/app/main.py", line 12, in <module>', True),
        ("json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes", True),
        ("\tat org.apache.hadoop.ipc.Client.call(Client.java:1475)", True),
        ("03-17 16:13:47.150  1702 17633 E ActivityManager: applyOptionsLocked", True),
        ("make: *** [Makefile:12: all] Error 2", True),
        ("Process finished with exit code 137", True),
        ('10.0.0.1 - - "GET /index.html HTTP/1.1" 503 1024', True),
        ("User unknown timed out after 900 seconds", True),
        ("Process finished with exit code 0", False),
        ('10.0.0.1 - - "GET /index.html HTTP/1.1" 200 1024', False),
        ("03-17 16:13:38.859  2227  2227 D TextView: visible is system.time.showampm", False),
        ("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 done", False),
        # severity inside codes and dotted names
        ("2016-09-29 00:00:01, Info DPX (ImportBailout.Error:1331) Asked to exit for unknown "
         "reason", True),
        ("net::ERR_CONNECTION_REFUSED at https://example.com/api", True),
        ("app.py:12:1: E1234 undefined name 'foo'", True),
        ("open failed: ENOENT (No such file or directory)", True),
        ("panic: runtime error: index out of range [3] with length 3", True),
        ("2016-09-28 04:30:31, Info CBS Loaded Servicing Stack v6.1.7601.23505 with Core", False),
        # words that say there is no problem
        ("Build finished with no errors", False),
        ("Ran 42 tests: 0 failures, 0 errors", False),
        ("lint: errors=0 warnings=0", False),
        ("cluster.failover: true", False),
    ],
)
def test_problem_line_recognition(line: str, problem: bool) -> None:
    assert is_problem_line(line) is problem


def test_codes_masked_by_templates_still_flag_their_lines() -> None:
    lines = [
        "2016-09-29 00:00:01, Info DPX (ImportBailout.Error:1331) Asked to exit for unknown reason",
        "2016-09-29 00:00:02, Info DPX (Extract.Ok:1) Extracted file",
        "Ran 12 tests: 0 failures", "Ran 12 tests: 3 failures",
    ]
    assert problem_flags(templates_of(lines).texts, lines) == [True, False, False, True]


@pytest.mark.parametrize(
    ("line", "template"),
    [
        (
            "[Sun Dec 04 04:51:18 2005] [error] mod_jk child workerEnv in error state 6",
            "[<time>] [error] mod_jk child workerEnv in error state <num>",
        ),
        (
            "081109 214043 2561 WARN dfs.DataNode$DataXceiver: 10.251.30.85:50010:Got exception",
            "<num> <num> <num> WARN dfs.DataNode$DataXceiver: <ip>:Got exception",
        ),
        (
            "Deleting block blk_-1781953 file /mnt/hadoop/dfs/data/current/subdir5/blk_1781953",
            "Deleting block <id> file <path>",
        ),
        (
            "req-38101a0b-2096-447d-96ea-a692162415ae flags=0x1f uid=c1e3a9f0 host=a.example.com",
            "<id> flags=<hex> uid=<hex> host=<host>",
        ),
    ],
)
def test_templates_mask_values(line: str, template: str) -> None:
    masked = template_of(line)
    assert masked.text == template
    # the values come back verbatim and in order, one per mark of the template
    assert len(masked.values) == template.count("<")
    position = 0
    for value in masked.values:
        assert value in line[position:]
        position = line.index(value, position) + len(value)


_LINE_PIECES = [
    *("Dec", "Mon,", "Jan 5 10:11:12", "2024-01-02T03:04:05Z", "müller.de:1234", "10.0.0.1:80"),
    *("node4", "-12.5", "0x1F", "a1b2c3d", "deadbeef", "job_7", "x-9", "api.example.com"),
    *("/var/log/a.log", "C:\\x\\y", "ERROR", "ok", "ü", "_", ":", ".", "-", " ", "7"),
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_LINE_PIECES), max_size=12).map("".join))
def test_the_value_guards_skip_no_position_a_pattern_matches_at(line: str) -> None:
    from headroom_core.transforms._lines import templates

    digit, letter = len(templates._STARTING_WITH_DIGIT), len(templates._STARTING_WITH_LETTER)
    starting_with_digit = templates._alternatives(templates._STARTING_WITH_DIGIT, 0)
    starting_with_letter = templates._alternatives(templates._STARTING_WITH_LETTER, digit)
    unguarded = re.compile(
        rf"\b(?=\d)(?:{starting_with_digit})|\b(?=[A-Za-z])(?:{starting_with_letter})|"
        + templates._alternatives(templates._ANYWHERE, digit + letter)
    )
    assert templates._VALUE_RE.sub(lambda m: m.lastgroup or "", line) == unguarded.sub(
        lambda m: m.lastgroup or "", line
    )


def test_a_large_log_counted_while_crushed_still_honours_min_tokens_to_crush() -> None:
    log = read("linux.log")
    text = log * (200_000 // len(log) + 1)
    tokens = get_tokenizer().count_text(text)
    crushed = LineCrusher(LineCrusherConfig(min_tokens_to_crush=tokens + 1), store=None).crush(text)
    assert crushed.compressed == text and crushed.tokens_before == tokens
    assert crushed.reasons == ["below min_tokens_to_crush"]
    assert LineCrusher(store=None).crush(text).tokens_before == tokens


def test_a_line_without_values_has_an_empty_values_tuple() -> None:
    assert template_of("Starting the datanode").values == ()


def test_prose_keeps_query_lines_and_both_ends(crusher: LineCrusher) -> None:
    text = "\n\n".join(inspect.getdoc(module) or "" for module in (re, json, traceback, inspect))
    lines = text.split("\n")
    assert len(lines) > LineCrusherConfig().max_lines_after_crush
    result = crusher.crush(text, "What does the DOTALL flag do?")
    kept = result.compressed.split("\n")
    assert result.strategy == "line_crusher" and result.tokens_after < result.tokens_before
    assert [line for line in lines if "DOTALL" in line and line in kept]
    assert lines[0] in kept and lines[-1] in kept
    assert not any(line.startswith("  [x") for line in kept)  # blank lines get no note


def test_crlf_lines_keep_their_endings(crusher: LineCrusher) -> None:
    case = CASES["apache.log"]
    text = read("apache.log").replace("\n", "\r\n")
    result = crusher.crush(text, case["query"])
    assert all(needle["text"] in result.compressed for needle in case["needles"])
    last = text.split("\n")[-1]  # the one line without a line ending
    body = [line for line in result.compressed.split("\n")[:-1] if not line.startswith(last)]
    assert body and all(line.endswith("\r") for line in body)


@pytest.mark.embedding
@pytest.mark.slow
@pytest.mark.skipif(not embedding_available(), reason="needs the 'relevance' extra")
def test_semantic_scorer_sees_a_bounded_sample_and_keeps_query_lines(
    store: InMemoryOriginalsStore,
) -> None:
    case = CASES["hdfs.log"]
    crusher = LineCrusher(scorer=create_scorer("hybrid"), store=store)
    result = crusher.crush(read("hdfs.log"), case["query"])
    assert all(needle["text"] in result.compressed for needle in case["needles"])


def test_a_query_term_on_every_line_does_not_make_every_line_relevant() -> None:
    lines = [
        f"Jun 14 15:16:{i % 60:02d} combo sshd(pam_unix)[{19000 + i}]: session opened for u{i % 5}"
        for i in range(400)
    ]
    lines.insert(200, "Jun 14 15:20:01 combo kernel: Out of memory: Killed process 4711 (java)")

    crushed = LineCrusher(store=None).crush("\n".join(lines), query="What happened on combo?")

    assert "Out of memory: Killed process 4711" in crushed.compressed
    assert len(crushed.compressed.splitlines()) < 30
