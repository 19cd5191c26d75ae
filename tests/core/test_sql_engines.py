"""create_sql_engine: the one engine setup behind the metrics and the retrieval stores."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from headroom_core.errors import ConfigurationError
from headroom_core.storage import create_sql_engine
from headroom_core.storage.engines import SQLITE_BUSY_TIMEOUT_MS


def test_sqlite_file_is_opened_for_several_writers(tmp_path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
    engine.dispose()


def test_in_memory_sqlite_is_one_database_for_every_thread() -> None:
    engine = create_sql_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE seen (n INTEGER)"))
        connection.execute(text("INSERT INTO seen VALUES (42)"))
    found: list[int] = []

    def read() -> None:
        with engine.connect() as connection:
            found.append(connection.execute(text("SELECT n FROM seen")).scalar())

    reader = threading.Thread(target=read)
    reader.start()
    reader.join()
    assert found == [42]


def test_unparseable_url_names_the_field() -> None:
    with pytest.raises(ConfigurationError) as error:
        create_sql_engine("not a url")
    assert error.value.details["field"] == "store_url"
    assert error.value.details["value"] == "not a url"
    assert "sqlite:///" in error.value.details["allowed"]


def test_missing_driver_hides_the_password() -> None:
    with pytest.raises(ConfigurationError, match="not installed") as error:
        create_sql_engine("postgresql+nosuchdriver://user:secret@db.example/metrics")
    assert "secret" not in str(error.value.details["value"])
    assert error.value.details["field"] == "store_url"


@pytest.mark.postgres
def test_postgres_engine_connects(postgres_url: str) -> None:
    engine = create_sql_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 41 + 1")).scalar() == 42
    engine.dispose()
