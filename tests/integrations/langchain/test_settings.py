"""Every LangChain adapter checks its settings when it is built and speaks one vocabulary."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

from headroom_core.adapter_settings import HeadroomDeprecationWarning
from headroom_core.errors import ConfigurationError, ProviderError, ValidationError
from headroom_integrations.langchain import (
    HeadroomChatMessageHistory,
    HeadroomChatModel,
    HeadroomDocumentCompressor,
    HeadroomMiddleware,
    HeadroomTransformer,
    create_headroom_node,
    wrap_tools_with_headroom,
)


def _fake() -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage("ok")]))


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return key


ADAPTERS: dict[str, Callable[..., Any]] = {
    "chat model": lambda **kw: HeadroomChatModel(_fake(), **kw),
    "transformer": HeadroomTransformer,
    "middleware": HeadroomMiddleware,
    "langgraph node": create_headroom_node,
    "history": lambda **kw: HeadroomChatMessageHistory(
        InMemoryChatMessageHistory(), max_tokens=1000, **kw
    ),
}
WITH_MODE = ("chat model", "transformer", "middleware")
WITH_STORE = ("chat model", "transformer", "middleware", "langgraph node")


@pytest.mark.parametrize("adapter", WITH_MODE)
def test_a_bad_mode_fails_when_the_adapter_is_built(adapter: str) -> None:
    with pytest.raises(ConfigurationError, match="mode") as raised:
        ADAPTERS[adapter](mode="bogus")
    assert raised.value.details["value"] == "bogus"


@pytest.mark.parametrize("adapter", WITH_STORE)
def test_a_bad_store_url_fails_when_the_adapter_is_built(adapter: str) -> None:
    with pytest.raises(ConfigurationError, match="store_url") as raised:
        ADAPTERS[adapter](store_url="nope")
    assert raised.value.details["value"] == "nope"


@pytest.mark.parametrize("adapter", [*ADAPTERS, "document compressor", "wrapped tools"])
def test_an_unknown_model_name_fails_when_the_adapter_is_built(adapter: str) -> None:
    build = {
        **ADAPTERS,
        "document compressor": HeadroomDocumentCompressor,
        "wrapped tools": lambda **kw: wrap_tools_with_headroom([lookup], **kw),
    }[adapter]
    with pytest.raises(ProviderError, match="gpt-4o"):
        build(model_name="gpt4o")


def test_the_chat_model_checks_the_name_its_wrapped_model_reports() -> None:
    from langchain_openai import ChatOpenAI

    with pytest.raises(ProviderError, match="gpt-4o"):
        HeadroomChatModel(ChatOpenAI(model="gpt4o", api_key="sk-fake"))
    # naming a known model for counting makes any wrapped model usable
    HeadroomChatModel(ChatOpenAI(model="gpt4o", api_key="sk-fake"), model_name="gpt-4o")


@pytest.mark.parametrize(
    "build",
    [
        lambda: HeadroomChatModel(_fake(), model_nme="gpt-4o"),
        lambda: HeadroomTransformer(model_nme="gpt-4o"),
        lambda: HeadroomDocumentCompressor(model_nme="gpt-4o"),
    ],
)
def test_unknown_keyword_arguments_are_rejected_with_the_closest_name(
    build: Callable[[], Any],
) -> None:
    with pytest.raises(ConfigurationError, match="Did you mean model_name"):
        build()


def test_sampling_settings_are_sent_to_the_wrapped_model() -> None:
    with pytest.raises(ConfigurationError, match="set it on the wrapped model"):
        HeadroomChatModel(_fake(), temperature=0)


def test_the_chat_model_counts_with_its_model_name() -> None:
    llm = HeadroomChatModel(_fake(), model_name="claude-sonnet-4-5")
    reply = llm.invoke([HumanMessage("hi")])
    assert reply.response_metadata["headroom"]["model"] == "claude-sonnet-4-5"


def test_the_old_name_of_the_wrapped_model_still_works_with_a_warning() -> None:
    inner = _fake()
    with pytest.warns(HeadroomDeprecationWarning, match="use llm="):
        llm = HeadroomChatModel(model=inner)
    assert llm.llm is inner
    with pytest.raises(ConfigurationError, match="only llm="):
        HeadroomChatModel(model=inner, llm=inner)


def test_the_current_names_warn_about_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HeadroomChatModel(_fake(), model_name="gpt-4o", mode="audit")
        HeadroomChatModel(llm=_fake())


def test_the_transformer_refuses_a_dict_instead_of_reading_its_keys_as_messages() -> None:
    with pytest.raises(ValidationError, match="prompt template"):
        HeadroomTransformer().invoke({"a": 1})  # type: ignore[arg-type]
