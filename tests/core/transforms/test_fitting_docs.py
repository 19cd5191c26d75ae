"""The usage examples in the context-fitting docstrings run and print what they claim."""

from __future__ import annotations

import doctest

import pytest

from headroom_core import waste
from headroom_core.transforms import (
    cache_aligner,
    intelligent_context,
    pipeline,
    rolling_window,
    toin,
)


@pytest.mark.parametrize(
    "module", [cache_aligner, rolling_window, intelligent_context, pipeline, toin, waste]
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
