"""The public surface of headroom_integrations.langchain and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import headroom_integrations.langchain as package

EXPECTED = [
    "HeadroomCallbackHandler",
    "HeadroomChatMessageHistory",
    "HeadroomChatModel",
    "HeadroomDocumentCompressor",
    "HeadroomMiddleware",
    "HeadroomTransformer",
    "create_headroom_node",
    "from_core_messages",
    "headroom_retrieve_tool",
    "headroom_savings",
    "to_core_messages",
    "wrap_tools_with_headroom",
]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_all_is_exact_and_resolves() -> None:
    assert sorted(package.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(package, name).__name__ == name


def test_import_loads_neither_agents_nor_langgraph() -> None:
    result = _run(
        "import sys, headroom_integrations.langchain as p; p.HeadroomChatModel;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('langchain', 'langgraph')))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_langchain_names_the_extra() -> None:
    result = _run(
        "import sys; sys.modules['langchain_core'] = None\nimport headroom_integrations.langchain"
    )
    assert result.returncode != 0
    assert "pip install headroom-langchain[langchain]" in result.stderr
