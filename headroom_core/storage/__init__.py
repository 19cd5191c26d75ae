"""Metrics storage with SQLModel: SQLite by default, PostgreSQL when processes share one store."""

from headroom_core.storage.engines import create_sql_engine, parse_store_url
from headroom_core.storage.store import MetricsStore
from headroom_core.storage.tables import RequestMetricsRow

__all__ = ["MetricsStore", "RequestMetricsRow", "create_sql_engine", "parse_store_url"]
