"""text_memo: memoises by text, stays bounded, keys long texts by length and hash."""

from __future__ import annotations

from headroom_core._textmemo import text_memo


def test_memoises_and_evicts_the_oldest():
    calls: list[str] = []

    @text_memo(maxsize=2)
    def shout(text: str) -> str:
        calls.append(text)
        return text.upper()

    assert [shout("a"), shout("a"), shout("b"), shout("c"), shout("a")] == ["A", "A", "B", "C", "A"]
    assert calls == ["a", "b", "c", "a"]  # "a" was evicted by "c", so it was computed again


def test_long_texts_are_recognised_by_content_not_identity():
    calls = 0

    @text_memo(maxsize=4)
    def length(text: str) -> int:
        nonlocal calls
        calls += 1
        return len(text)

    long_text = "x" * 10_000
    same_content = "".join(["x"] * 10_000)
    assert long_text is not same_content
    assert length(long_text) == length(same_content) == 10_000
    assert calls == 1
