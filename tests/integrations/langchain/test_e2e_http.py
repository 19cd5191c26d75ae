"""End to end over HTTP: ChatOpenAI behind the adapters, replayed from recorded cassettes.

The cassettes were recorded against the loopback OpenAI-compatible server of the test suite
(``--record-mode=rewrite`` starts it and records); a normal run replays them and never touches
the network. Requests match on method, path, model, stream flag and the roles sent, so a change in
how much the compressors cut does not invalidate the recordings; the assertions look at the bodies
that really left ChatOpenAI in this run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk, BaseMessage, ToolMessage, convert_to_messages
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_openai import ChatOpenAI

from headroom_core.samples import load_sample_conversation
from headroom_integrations.langchain import (
    HeadroomCallbackHandler,
    HeadroomChatModel,
    HeadroomTransformer,
)

REPLAY_BASE_URL = "http://127.0.0.1:9/v1"  # never dialled: the cassette answers
STAINLESS_HEADERS = [
    f"x-stainless-{name}"
    for name in ("arch", "async", "lang", "os", "package-version", "raw-response", "retry-count",
                 "runtime", "runtime-version", "read-timeout")
]  # fmt: skip


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "match_on": ["method", "path", "openai_shape"],
        "filter_headers": [
            ("authorization", "Bearer REDACTED"),
            "cookie",
            "openai-organization",
            "user-agent",
            *STAINLESS_HEADERS,
        ],
        "decode_compressed_response": True,
    }


@pytest.fixture
def base_url(record_mode: str) -> Iterator[str]:
    if record_mode == "none":
        yield REPLAY_BASE_URL
        return
    from tests.support.openai_server import RecordingLLMServer

    with RecordingLLMServer() as server:
        yield server.openai_base_url


@pytest.fixture
def sent() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def chat_openai(base_url: str, sent: list[dict[str, Any]]) -> ChatOpenAI:
    def remember(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    async def aremember(request: httpx.Request) -> None:
        remember(request)

    return ChatOpenAI(
        model="gpt-4o-mini",
        api_key="sk-fake",
        base_url=base_url,
        stream_usage=True,
        max_retries=0,
        http_client=httpx.Client(event_hooks={"request": [remember]}),
        http_async_client=httpx.AsyncClient(event_hooks={"request": [aremember]}),
    )


@pytest.fixture
def conversation() -> list[BaseMessage]:
    return convert_to_messages(load_sample_conversation()["messages"])


def _tool_sizes(messages: list[dict[str, Any]]) -> dict[str, int]:
    return {m["tool_call_id"]: len(m["content"]) for m in messages if m["role"] == "tool"}


@pytest.mark.vcr
def test_invoke_sends_compressed_tool_results_and_gets_the_same_reply(
    chat_openai: ChatOpenAI, conversation: list[BaseMessage], sent: list[dict[str, Any]]
) -> None:
    llm = HeadroomChatModel(chat_openai)
    handler = HeadroomCallbackHandler()

    direct = chat_openai.invoke(conversation)
    reply = llm.invoke(conversation, config={"callbacks": [handler]})

    _, body = sent
    originals = {m.tool_call_id: len(m.content) for m in conversation if isinstance(m, ToolMessage)}
    after = _tool_sizes(body["messages"])
    assert after.keys() == originals.keys()
    assert all(after[key] < originals[key] / 2 for key in originals)
    assert reply.content == direct.content
    assert reply.content == f"Received {len(conversation)} messages ({_roles(conversation)})."
    savings = reply.response_metadata["headroom"]
    assert reply.response_metadata["model_name"] == "gpt-4o-mini"
    assert reply.usage_metadata["input_tokens"] < direct.usage_metadata["input_tokens"] / 2
    assert handler.total["tokens_saved"] == savings["tokens_saved"] > 0


@pytest.mark.vcr
def test_stream_through_the_wrapper(
    chat_openai: ChatOpenAI, conversation: list[BaseMessage], sent: list[dict[str, Any]]
) -> None:
    llm = HeadroomChatModel(chat_openai)

    chunks = list(llm.stream(conversation))

    merged: AIMessageChunk = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert len(chunks) > 3
    assert merged.content.startswith(f"Received {len(conversation)} messages")
    assert merged.usage_metadata["input_tokens"] > 0
    assert merged.response_metadata["headroom"]["tokens_saved"] > 0
    [body] = sent
    assert body["stream"] is True
    assert sum(_tool_sizes(body["messages"]).values()) < sum(
        len(m.content) for m in conversation if isinstance(m, ToolMessage)
    )


@pytest.mark.vcr
async def test_async_prompt_transformer_chain(
    chat_openai: ChatOpenAI, conversation: list[BaseMessage], sent: list[dict[str, Any]]
) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{question}")]
    )
    chain = prompt | HeadroomTransformer(model_name="gpt-4o-mini") | chat_openai

    reply = await chain.ainvoke(
        {"history": conversation[:-1], "question": conversation[-1].content}
    )

    assert reply.content.startswith(f"Received {len(conversation)} messages")
    [body] = sent
    assert len(json.dumps(body)) < len(json.dumps([m.model_dump() for m in conversation])) / 2


def _roles(messages: list[BaseMessage]) -> str:
    names = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
    return ", ".join(names[m.type] for m in messages)
