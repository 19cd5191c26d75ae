"""One way to open a SQL database for Headroom's tables, shared by the metrics and retrieval stores.

SQLite gets WAL and a busy timeout so that several processes can write one file; an in-memory
SQLite database keeps a single connection (otherwise each connection would see its own empty
database); other backends get ``pool_pre_ping`` so a restarted server costs a reconnect, not an
error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from headroom_core.errors import ConfigurationError

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "create_sql_engine", "parse_store_url"]

_ALLOWED_URLS = "an SQLAlchemy URL such as 'sqlite:///headroom.db' or 'postgresql+psycopg://user@host/db'"

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another process's write lock before failing."""


def create_sql_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine for a store URL.

    Args:
        url: An SQLAlchemy URL: ``sqlite:///headroom.db``, ``sqlite://`` (in memory) or
            ``postgresql+psycopg://user@host/db``.

    Returns:
        An engine configured for concurrent use by threads and processes.

    Raises:
        ConfigurationError: The URL cannot be parsed or its driver is not installed (the
            password, if any, is hidden in the error).

    Examples:
        >>> from sqlalchemy import text
        >>> engine = create_sql_engine("sqlite://")
        >>> with engine.connect() as connection:
        ...     connection.execute(text("SELECT 1")).scalar()
        1
    """
    parsed = parse_store_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            poolclass=StaticPool if in_memory else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def parse_store_url(url: str) -> URL:
    """The parsed store URL, checked without connecting: adapters call it when they are built,
    so a typo fails there and not on every request.

    Raises:
        ConfigurationError: The URL cannot be parsed or its driver is not installed (the
            password, if any, is hidden in the error).

    Examples:
        >>> parse_store_url("sqlite:///headroom.db").get_backend_name()
        'sqlite'
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"Invalid value for store_url: {url!r}. Allowed: {_ALLOWED_URLS}.",
            details={"field": "store_url", "value": url, "allowed": _ALLOWED_URLS},
        ) from exc
    try:
        parsed.get_dialect().import_dbapi()
    except (ImportError, NoSuchModuleError) as exc:
        raise ConfigurationError(
            f"The driver for {parsed.drivername!r} is not installed ({exc}). For PostgreSQL "
            "install the extra: pip install 'headroom-langchain[postgres]'.",
            details={
                "field": "store_url",
                "value": parsed.render_as_string(hide_password=True),
                "allowed": "a URL whose driver is installed",
            },
        ) from exc
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work at once; busy_timeout makes writers of several
    processes wait for each other instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
