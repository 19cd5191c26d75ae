"""The SQLModel table that holds one row per optimized request."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel

__all__ = ["RequestMetricsRow"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RequestMetricsRow(SQLModel, table=True):
    """One request as the engine saw it: sizes, costs, transforms, timing and failure.

    ``transforms_applied`` and ``transform_savings`` are JSON text so that the same table works
    on SQLite and PostgreSQL. ``content`` stays empty unless
    ``HeadroomConfig.store_message_content`` is set.
    """

    __tablename__ = "headroom_request_metrics"
    __table_args__ = (Index("ix_headroom_request_metrics_model_created_at", "model", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=_utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True),
    )
    request_id: str = Field(default="", max_length=64)
    source: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=128, index=True)
    mode: str = Field(default="optimize", max_length=16)
    tokens_before: int = 0
    tokens_after: int = 0
    tokens_saved: int = 0
    cost_before_usd: float | None = None
    cost_after_usd: float | None = None
    transforms_applied: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    transform_savings: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    latency_ms: float = 0.0
    stable_prefix_hash: str | None = Field(default=None, max_length=128)
    failed: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    content: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    provider_input_tokens: int | None = None  # the provider's own count, when a proxy saw it
    provider_output_tokens: int | None = None
