"""Without LlamaIndex installed, importing the adapter says which extra to install."""

from __future__ import annotations

import subprocess
import sys


def test_missing_llamaindex_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['llama_index'] = None\n"
        "sys.modules['llama_index.core'] = None\n"
        "try:\n"
        "    import headroom_integrations.llamaindex\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert 'pip install "headroom-langchain[llamaindex]"' in result.stdout


def test_importing_the_adapter_loads_no_model_or_other_framework() -> None:
    code = (
        "import sys\n"
        "import headroom_integrations.llamaindex\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'langchain_core')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
