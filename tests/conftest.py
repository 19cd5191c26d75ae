"""Shared fixtures: the PostgreSQL URL for store tests, offline model loading."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

POSTGRES_ENV = "HEADROOM_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the PostgreSQL server for store tests; skips, saying why, when not configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set: PostgreSQL store tests need a server URL such as "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test (.ci/run sets it)."
        )
    return url
