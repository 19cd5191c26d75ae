"""Token counts against tiktoken's own encoders and OpenAI's published chat accounting."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from headroom_core import _vocab
from headroom_core.errors import TokenizationError
from headroom_core.tokenizer import (
    Tokenizer,
    count_tokens_messages,
    count_tokens_text,
    get_tokenizer,
)

O200K_MODELS = [
    "gpt-4o",
    "gpt-4o-2024-08-06",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-5",
    "o1",
    "o3",
    "o4-mini",
]
CL100K_MODELS = ["gpt-4", "gpt-4-0613", "gpt-3.5-turbo", "gpt-4-turbo"]

TEXTS = [
    "",
    " ",
    "Hello, world!",
    "naïve café — Ünïcode, 日本語のテキスト, emoji 👩‍👩‍👧‍👦 and Ελληνικά",
    "def get_repo(self, full_name_or_id: int | str) -> Repository:\n    return self._requester\n",
    '{"id": 12345678901234567890, "price": 0.1, "tags": ["a", "b"], "nested": {"x": null}}',
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_-68",
    "<|endoftext|> and <|endofprompt|> and <|fim_prefix|> are plain text here",
    "\n\n\t  \r\n   trailing spaces   \n",
    "a" * 5000,
    "0123456789" * 300,
    "log <|endoftext|> naïve 日本語 {\"k\": 1.5e-3}\n" * 200,  # long: counted via the numpy path
]


@pytest.fixture(scope="session")
def official(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tiktoken.Encoding]]:
    """tiktoken's own encoders, loaded offline by tiktoken from a cache we fill."""
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for spec in _vocab.ENCODING_SPECS.values():
        shipped = _vocab._SHIPPED / f"{spec.name}.tiktoken.gz"
        name = hashlib.sha1(spec.url.encode()).hexdigest()
        (cache / name).write_bytes(gzip.decompress(shipped.read_bytes()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        yield {name: tiktoken.get_encoding(name) for name in _vocab.ENCODING_SPECS}


def _cookbook_count(messages: list[dict[str, Any]], encoding: tiktoken.Encoding) -> int:
    """OpenAI cookbook's num_tokens_from_messages for current chat models."""
    total = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            total += len(encoding.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total + 3


def _cookbook_tools(tools: list[dict[str, Any]], encoding: tiktoken.Encoding, init: int) -> int:
    """OpenAI cookbook's num_tokens_for_tools."""
    total = 0
    for tool in tools:
        function = tool["function"]
        total += init
        description = function["description"].removesuffix(".")
        total += len(encoding.encode(f"{function['name']}:{description}"))
        properties = function["parameters"]["properties"]
        if properties:
            total += 3
            for key, spec in properties.items():
                total += 3
                if "enum" in spec:
                    total -= 3
                    for item in spec["enum"]:
                        total += 3 + len(encoding.encode(item))
                prop_description = spec["description"].removesuffix(".")
                total += len(encoding.encode(f"{key}:{spec['type']}:{prop_description}"))
    return total + 12


def test_our_encoders_are_tiktokens(official: dict[str, tiktoken.Encoding]) -> None:
    for name, theirs in official.items():
        ours = _vocab.get_encoding(name)
        assert ours._pat_str == theirs._pat_str
        assert ours._special_tokens == theirs._special_tokens
        assert ours.n_vocab == theirs.n_vocab
        assert ours._mergeable_ranks == theirs._mergeable_ranks


@pytest.mark.parametrize("model", O200K_MODELS + CL100K_MODELS)
def test_model_encoding_and_exactness(model: str, official: dict[str, tiktoken.Encoding]) -> None:
    tokenizer = Tokenizer(model)
    assert tokenizer.is_exact
    assert tokenizer.encoding_name == tiktoken.encoding_name_for_model(model)


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_text_counts_equal_tiktoken(
    model: str, text: str, official: dict[str, tiktoken.Encoding]
) -> None:
    theirs = official[tiktoken.encoding_name_for_model(model)]
    expected = len(theirs.encode(text, disallowed_special=()))
    assert Tokenizer(model).count_text(text) == expected
    assert count_tokens_text(text, model) == expected
    assert Tokenizer(model).encode(text) == theirs.encode_ordinary(text)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300), model=st.sampled_from(["gpt-4o", "gpt-3.5-turbo"]))
def test_any_text_counts_equal_tiktoken(
    text: str, model: str, official: dict[str, tiktoken.Encoding]
) -> None:
    theirs = official[tiktoken.encoding_name_for_model(model)]
    assert get_tokenizer(model).count_text(text) == len(theirs.encode_ordinary(text))


CONVERSATION = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant."},
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client.",
    },
    {"role": "assistant", "content": 'Ünïcode ✓ 日本語 — {"k": [1, 2.5, null]}'},
]


@pytest.mark.parametrize("model", O200K_MODELS + CL100K_MODELS)
def test_message_counts_follow_openai_accounting(
    model: str, official: dict[str, tiktoken.Encoding]
) -> None:
    theirs = official[tiktoken.encoding_name_for_model(model)]
    expected = _cookbook_count(CONVERSATION, theirs)
    assert Tokenizer(model).count_messages(CONVERSATION) == expected
    assert count_tokens_messages(CONVERSATION, model) == expected


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["system", "user", "assistant"]),
                "content": st.text(max_size=120),
            },
            optional={"name": st.from_regex(r"[a-zA-Z0-9_-]{1,20}", fullmatch=True)},
        ),
        max_size=8,
    )
)
def test_any_plain_conversation_follows_openai_accounting(
    messages: list[dict[str, Any]], official: dict[str, tiktoken.Encoding]
) -> None:
    assert get_tokenizer("gpt-4o").count_messages(messages) == _cookbook_count(
        messages, official["o200k_base"]
    )


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location.",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature.",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]


@pytest.mark.parametrize(("model", "init"), [("gpt-4o", 7), ("gpt-4", 10)])
def test_tool_definitions_follow_openai_accounting(
    model: str, init: int, official: dict[str, tiktoken.Encoding]
) -> None:
    theirs = official[tiktoken.encoding_name_for_model(model)]
    messages = CONVERSATION[:1]
    expected = _cookbook_count(messages, theirs) + _cookbook_tools(TOOLS, theirs, init)
    assert Tokenizer(model).count_messages(messages, tools=TOOLS) == expected


def test_tool_calls_and_results_are_counted() -> None:
    tokenizer = Tokenizer("gpt-4o")
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "search", "arguments": '{"q": "x"}'},
            }
        ],
    }
    bare = {"role": "assistant", "content": None}
    result = {"role": "tool", "tool_call_id": "call_1", "content": "found 3 results"}
    assert tokenizer.count_message(call) > tokenizer.count_message(bare)
    assert tokenizer.count_message(result) == 3 + sum(
        tokenizer.count_text(v) for v in result.values()
    )


def test_messages_differing_only_in_a_structured_field_are_counted_apart() -> None:
    tokenizer = Tokenizer("gpt-4o")
    short = {
        "role": "assistant",
        "content": None,
        "function_call": {"name": "f", "arguments": "{}"},
    }
    long = {
        "role": "assistant",
        "content": None,
        "function_call": {"name": "f", "arguments": json.dumps({"q": "many more words " * 10})},
    }
    assert tokenizer.count_message(long) > tokenizer.count_message(short)


@pytest.mark.parametrize(
    "model", ["claude-3-5-sonnet-latest", "claude-sonnet-4-5", "gemini-2.5-pro"]
)
def test_claude_and_gemini_counters_are_estimates(model: str) -> None:
    tokenizer = Tokenizer(model)
    assert not tokenizer.is_exact
    text = "The quick brown fox jumps over the lazy dog. " * 20
    assert tokenizer.count_text(text) >= Tokenizer("gpt-4o").count_text(text)


@pytest.fixture
def fresh_encoders(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget loaded encoders so the next count loads the vocabulary again."""
    monkeypatch.setattr(_vocab, "_encodings", {})


def test_a_corrupt_tiktoken_cache_file_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_encoders: None
) -> None:
    spec = _vocab.ENCODING_SPECS["cl100k_base"]
    (tmp_path / hashlib.sha1(spec.url.encode()).hexdigest()).write_bytes(b"Zm9v 0\nYmFy 1\n")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    encoding = _vocab.get_encoding("cl100k_base")
    assert encoding.n_vocab > 100_000
    assert len(encoding.encode_ordinary("hello world")) == 2


def test_a_corrupt_shipped_vocabulary_raises_tokenization_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_encoders: None
) -> None:
    spec = _vocab.ENCODING_SPECS["o200k_base"]
    original = gzip.decompress((_vocab._SHIPPED / "o200k_base.tiktoken.gz").read_bytes())
    (tmp_path / "o200k_base.tiktoken.gz").write_bytes(gzip.compress(original[:-40] + b"AAAA 1\n"))
    monkeypatch.setattr(_vocab, "_SHIPPED", tmp_path)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.raises(TokenizationError, match="checksum") as info:
        Tokenizer("gpt-4o", encoding="o200k_base").count_text("hello")
    assert info.value.details["encoding"] == spec.name


def test_an_unreadable_shipped_vocabulary_raises_tokenization_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_encoders: None
) -> None:
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(b"not gzip at all")
    monkeypatch.setattr(_vocab, "_SHIPPED", tmp_path)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.raises(TokenizationError, match="cl100k_base"):
        _vocab.get_encoding("cl100k_base")


def test_unknown_encoding_raises_tokenization_error() -> None:
    with pytest.raises(TokenizationError, match="p50k"):
        Tokenizer("gpt-4o", encoding="p50k_base").count_text("hello")


def test_encoders_load_once_per_process() -> None:
    assert Tokenizer("gpt-4o").encoding is Tokenizer("o3").encoding
    assert get_tokenizer("gpt-4o") is get_tokenizer("gpt-4o")


def test_recounting_a_grown_conversation_encodes_only_the_new_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokenizer = Tokenizer("gpt-4o")
    seen: list[str] = []
    encode = tokenizer.encoding.encode_ordinary

    def counting(text: str) -> list[int]:
        seen.append(text)
        return encode(text)

    monkeypatch.setattr(tokenizer.encoding, "encode_ordinary", counting)
    run = uuid.uuid4().hex
    conversation = [
        {"role": "user" if n % 2 else "assistant", "content": f"{run} message {n} " + "words " * 30}
        for n in range(200)
    ]
    first = tokenizer.count_messages(conversation)
    assert len(seen) >= 200
    seen.clear()
    new = {"role": "user", "content": f"{run} the new question " + "more " * 40}
    grown = tokenizer.count_messages([*conversation, new])
    assert grown == first + tokenizer.count_message(new)
    assert all(run not in text or "new question" in text for text in seen)
    assert seen.count(new["content"]) == 1


def test_a_message_changed_in_place_is_counted_again(
    official: dict[str, tiktoken.Encoding],
) -> None:
    encoding = official["o200k_base"]

    def tokens(text: str) -> int:
        return len(encoding.encode(text))

    tokenizer = Tokenizer("gpt-4o")
    parts = [{"type": "text", "text": f"short {uuid.uuid4().hex}"}]
    conversation = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": parts}]
    before = tokenizer.count_messages(conversation)
    parts[0]["text"] = "a much longer text than before, " * 10
    grown = [*conversation, {"role": "assistant", "content": "ok"}]
    expected = 3 + sum(
        3 + tokens(role) + tokens(text)
        for role, text in [("system", "Be brief."), ("user", parts[0]["text"]), ("assistant", "ok")]
    )
    assert tokenizer.count_messages(grown) == expected
    assert expected > before


def test_interleaved_and_branching_conversations_count_like_fresh_ones(
    official: dict[str, tiktoken.Encoding],
) -> None:
    encoding = official["o200k_base"]
    tokenizer = Tokenizer("gpt-4o")
    run = uuid.uuid4().hex
    base = [{"role": "user", "content": f"{run} question {n}"} for n in range(30)]
    branches = [
        [*base, {"role": "assistant", "content": f"{run} answer {n} " * n}] for n in range(1, 6)
    ]
    optimized = [{**message, "content": message["content"][:20]} for message in base]
    sequence = [base, branches[0], optimized, branches[1], base[:10], branches[2], optimized]
    sequence += [branches[3][:-1], branches[4], [*branches[4], *base], []]
    for messages in sequence:
        expected = _cookbook_count(messages, encoding)
        assert tokenizer.count_messages(messages) == expected
        assert tokenizer.count_messages(iter(messages)) == expected


def test_loading_vocabularies_changes_no_environment(fresh_encoders: None) -> None:
    import os

    before = dict(os.environ)
    Tokenizer("gpt-4", encoding="cl100k_base").count_text("load me again")
    assert dict(os.environ) == before


def test_conversations_too_big_to_remember_are_still_counted_exactly(
    monkeypatch: pytest.MonkeyPatch, official: dict[str, tiktoken.Encoding]
) -> None:
    from headroom_core import tokenizer as module

    monkeypatch.setattr(module, "MEMO_MAX_BYTES", 2_000)
    tokenizer = Tokenizer("gpt-4o")
    conversation = [{"role": "user", "content": f"{uuid.uuid4().hex} " * 20} for _ in range(10)]
    expected = _cookbook_count(conversation, official["o200k_base"])
    assert tokenizer.count_messages(conversation) == expected
    assert tokenizer.count_messages(conversation) == expected
    assert tokenizer.count_messages(conversation[:2]) == _cookbook_count(
        conversation[:2], official["o200k_base"]
    )


def test_messages_changed_in_place_since_the_last_count_are_counted_again() -> None:
    tokenizer = Tokenizer("gpt-4o")
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    conversation = [
        {"role": "user", "content": f"{uuid.uuid4().hex} question"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "short"},
    ]
    tokenizer.count_messages(conversation)
    conversation[2]["content"] = "a much longer tool result than before " * 10
    call["function"]["arguments"] = '{"a": 1, "b": "added in place"}'
    assert tokenizer.count_messages(conversation) == Tokenizer("gpt-4o").count_messages(
        conversation
    )


_CUT_ALPHABET = st.sampled_from(
    [*"ab Zé日0129٣²,.:/\"'{}[]-_\n\t ", "'s", "\r\n", "<|endoftext|>", "👩\u200d👧", "  \n/"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CUT_ALPHABET, min_size=1, max_size=80).map("".join))
def test_texts_cut_at_safe_positions_count_as_the_sum_of_their_pieces(
    official: dict[str, tiktoken.Encoding], text: str
) -> None:
    from headroom_core._token_cuts import safe_cut

    for encoding in official.values():
        whole = len(encoding.encode_ordinary(text))
        position = 0
        while (cut := safe_cut(text, position)) is not None:
            pieces = (text[:cut], text[cut:])
            assert sum(len(encoding.encode_ordinary(piece)) for piece in pieces) == whole
            position = cut


@pytest.mark.parametrize("encoding_name", ["o200k_base", "cl100k_base"])
def test_long_texts_counted_in_pieces_match_tiktoken(
    official: dict[str, tiktoken.Encoding], encoding_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headroom_core import tokenizer as module

    monkeypatch.setattr(module, "PIECE_CHARS", 40)  # many pieces, every kind of cut
    run = uuid.uuid4().hex
    records = [{"id": n, "name": f"Ünïcode {n} 😀", "ok": n % 3, "v": n / 7} for n in range(300)]
    texts = [
        f"{run}{json.dumps(records, separators=(',', ':'))}",  # no line break at all
        f"{run}{json.dumps(records, indent=2)}",
        *(f"{run}{sample}" * 3 for sample in TEXTS if len(sample) > 200),
    ]
    tokenizer = Tokenizer("gpt-4", encoding=encoding_name)
    for text in texts:
        assert tokenizer.count_text(text) == len(official[encoding_name].encode_ordinary(text))
