"""LangChain's own conformance suite for chat models, run on HeadroomChatModel."""

from __future__ import annotations

from typing import Any

from langchain_openai import ChatOpenAI
from langchain_tests.unit_tests import ChatModelUnitTests

from headroom_integrations.langchain import HeadroomChatModel


class TestHeadroomChatModelUnit(ChatModelUnitTests):
    """The wrapped model is a real ChatOpenAI; the unit suite needs no network."""

    @property
    def chat_model_class(self) -> type[HeadroomChatModel]:
        return HeadroomChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": ChatOpenAI(model="gpt-4o-mini", api_key="sk-fake")}
