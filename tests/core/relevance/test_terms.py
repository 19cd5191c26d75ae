from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headroom_core.relevance import search_terms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user_id", ["user_id", "user", "id"]),
        ("getUserName", ["getusername", "get", "user", "name"]),
        ("HTTPServerError", ["httpservererror", "http", "server", "error"]),
        ("max-retries", ["max-retries", "max", "retries"]),
        ("github/MainClass.py", ["github/mainclass.py", "github", "main", "class", "py"]),
        ("dfs.DataNode", ["dfs.datanode", "dfs", "data", "node"]),
        ("10.251.73.220:50010", ["10.251.73.220:50010", "10", "251", "73", "220", "50010"]),
        ("blk_-6952295868487656571", ["blk_-6952295868487656571", "blk", "6952295868487656571"]),
        ("ERROR", ["error"]),
    ],
)
def test_identifiers_yield_themselves_and_their_parts(text: str, expected: list[str]) -> None:
    assert search_terms(text) == expected


def test_numbers_survive_and_punctuation_goes() -> None:
    assert search_terms('status: 404, "len": 1893 (time=0.25s)!') == [
        "status",
        "404",
        "len",
        "1893",
        "time",
        "0.25s",
        "0",
        "25",
        "s",
    ]


def test_non_ascii_words_are_kept_whole_and_lowercased() -> None:
    assert search_terms("Ünïcode naïve Straße") == ["ünïcode", "naïve", "straße"]


def test_empty_and_punctuation_only_texts_have_no_terms() -> None:
    assert search_terms("") == []
    assert search_terms(" ,;:!?()[]{} ") == []


@given(st.text(max_size=200))
def test_terms_are_lowercase_non_empty_and_found_in_the_text(text: str) -> None:
    lowered = text.lower()
    for term in search_terms(text):
        assert term
        assert term == term.lower()
        assert term in lowered


def test_docstring_examples_run() -> None:
    import doctest

    from headroom_core.relevance import bm25, factory, terms

    for module in (terms, bm25, factory):
        assert doctest.testmod(module).failed == 0
