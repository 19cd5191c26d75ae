"""Real tool outputs for relevance tests (from logpai/loghub and PyGithub, see tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"


def _case(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def hdfs_case() -> dict:
    """150 lines of the HDFS log from loghub with its question and needles."""
    return _case("loghub-hdfs-a.json")


@pytest.fixture(scope="session")
def grep_case() -> dict:
    """`git grep -n get_repo` over PyGithub's sources."""
    return _case("grep-pygithub-get_repo.json")
