"""text_memo: memoises by text, stays bounded, keys long texts by length and hash."""

from __future__ import annotations

from headroom_core._textmemo import BoundedMemo, text_memo


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


def test_bounded_memo_forgets_the_least_recently_used():
    memo: BoundedMemo[str] = BoundedMemo(maxsize=2)
    memo.put("a", "A")
    memo.put("b", "B")
    assert memo.get("a") == "A"  # "a" is now the most recently used
    memo.put("c", "C")
    assert (memo.get("a"), memo.get("b"), memo.get("c"), len(memo)) == ("A", None, "C", 2)


def test_text_memo_remembers_falsy_results():
    calls = 0

    @text_memo(maxsize=4)
    def empty(text: str) -> bool:
        nonlocal calls
        calls += 1
        return False

    assert [empty("x"), empty("x")] == [False, False]
    assert calls == 1
