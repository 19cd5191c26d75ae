"""Helpers for the LlamaIndex tests: real corpus cases, an event collector, a recording LLM."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

DATA = Path(__file__).resolve().parents[2] / "data" / "llamaindex"


@dataclass(frozen=True)
class Case:
    """One real tool output with its question and the facts the answer needs."""

    id: str
    kind: str
    query: str
    content: str
    needles: list[str]


def load_case(name: str) -> Case:
    raw = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return Case(
        id=raw["id"],
        kind=raw["kind"],
        query=raw["query"],
        content=raw["content"],
        needles=[needle["text"] for needle in raw["needles"]],
    )


class EventCollector(BaseEventHandler):
    """Keeps every instrumentation event it is handed."""

    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EventCollector"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of_type(self, event_type: type[BaseEvent]) -> list[Any]:
        return [event for event in self.events if isinstance(event, event_type)]


class PromptRecordingLLM(CustomLLM):
    """A chat LLM with a large window that keeps every prompt it receives (chat messages are
    rendered into one prompt, as ``CustomLLM`` does).

    Unlike ``MockLLM`` it answers briefly instead of echoing, so refine-style synthesizers do not
    feed whole prompts back in as "existing answers".
    """

    prompts: list[str] = Field(default_factory=list)
    context_window: int = 128_000

    @classmethod
    def class_name(cls) -> str:
        return "PromptRecordingLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=256,
            is_chat_model=True,
            model_name="recorder",
        )

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        return CompletionResponse(text="recorded")

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        self.prompts.append(prompt)
        yield CompletionResponse(text="recorded", delta="recorded")
