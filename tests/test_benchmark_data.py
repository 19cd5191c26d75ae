"""The benchmarks' corpus loader: finds cases by environment variable, filters by kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks._data import case_messages, corpus_root, load_cases
from headroom_core.messages import validate_messages

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for kind, name in (("log", "loghub-hdfs-a.json"), ("search", "grep-pygithub-get_repo.json")):
        folder = tmp_path / "public" / kind
        folder.mkdir(parents=True)
        (folder / name).write_text((DATA / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "public" / "README.json").write_text(json.dumps(["not a case"]))
    monkeypatch.setenv("HEADROOM_CORPUS", str(tmp_path))
    return tmp_path


def test_cases_load_by_kind(corpus: Path) -> None:
    assert corpus_root() == corpus
    assert [case["id"] for case in load_cases()] == ["grep-pygithub-get_repo", "loghub-hdfs-a"]
    assert [case["kind"] for case in load_cases("log")] == ["log"]
    assert load_cases("json") == []


def test_a_missing_corpus_gives_no_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_CORPUS", str(tmp_path / "absent"))
    assert corpus_root() is None
    assert load_cases() == []


def test_a_case_becomes_a_valid_tool_conversation(corpus: Path) -> None:
    [case] = load_cases("log")
    messages = case_messages(case)
    validate_messages(messages)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[1]["content"] == case["query"]
    assert messages[3]["content"] == case["content"]
    assert messages[3]["tool_call_id"] == messages[2]["tool_calls"][0]["id"]
