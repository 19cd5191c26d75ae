"""LlamaIndex chat engines save tokens with HeadroomLLM alone: the retrieved context their
response synthesizer puts in the prompt is compressed for the question, facts kept."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Document, SummaryIndex
from llama_index.core.llms.mock import MockLLM

from headroom_core.tokenizer import get_tokenizer
from headroom_integrations.llamaindex import HeadroomLLM
from tests.integrations.llamaindex.llamaindex_support import PromptRecordingLLM

PROSE = Path(__file__).resolve().parents[2] / "data" / "prose"


@cache
def _cases() -> dict[str, dict[str, Any]]:
    return json.loads((PROSE / "cases.json").read_text(encoding="utf-8"))


def _index(name: str) -> SummaryIndex:
    """The whole document is the retrieved context (a summary index retrieves every chunk)."""
    text = (PROSE / name).read_text(encoding="utf-8")
    return SummaryIndex.from_documents([Document(text=text, metadata={"file_name": name})])


@pytest.mark.parametrize(
    ("name", "chat_mode"),
    [(name, "context") for name in sorted(_cases())]
    + [("GPL-3.txt", "condense_plus_context"), ("yarl_METADATA.txt", "condense_plus_context")],
)
def test_a_chat_engine_sends_less_and_keeps_what_the_question_needs(
    name: str, chat_mode: str
) -> None:
    case = _cases()[name]
    recorder = PromptRecordingLLM()
    llm = HeadroomLLM(recorder, model_name="gpt-4o", store_url="sqlite://")
    chat_engine = _index(name).as_chat_engine(chat_mode=chat_mode, llm=llm)

    chat_engine.chat(case["query"])

    summary = llm.engine.get_summary()
    assert summary["total_requests"] == len(recorder.prompts) == 1
    assert summary["total_tokens_saved"] > 0.05 * summary["total_tokens_before"]
    (prompt,) = recorder.prompts
    for needle in case["needles"]:
        assert needle in prompt
    assert case["query"] in prompt


def test_a_completion_model_in_a_chat_engine_goes_through_the_engine() -> None:
    case = _cases()["Apache-2.0.txt"]
    llm = HeadroomLLM(MockLLM(), store_url="sqlite://")  # MockLLM completes: it echoes the prompt
    reply = str(_index("Apache-2.0.txt").as_chat_engine(chat_mode="context", llm=llm).chat(
        case["query"]
    ))

    summary = llm.engine.get_summary()
    assert summary["total_requests"] == 1
    assert summary["total_tokens_saved"] > 0.5 * summary["total_tokens_before"]
    for needle in case["needles"]:
        assert needle in reply


def test_compress_context_off_sends_the_retrieved_context_whole() -> None:
    name = "GPL-3.txt"
    recorder = PromptRecordingLLM()
    llm = HeadroomLLM(recorder, model_name="gpt-4o", compress_context=False)
    _index(name).as_chat_engine(chat_mode="context", llm=llm).chat(_cases()[name]["query"])
    (prompt,) = recorder.prompts
    tokenizer = get_tokenizer("gpt-4o")
    document = (PROSE / name).read_text(encoding="utf-8")
    assert tokenizer.count_text(prompt) > tokenizer.count_text(document)
