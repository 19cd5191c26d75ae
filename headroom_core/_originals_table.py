"""The SQL table behind :class:`~headroom_core.retrieval.SQLOriginalsStore`.

Kept apart from ``retrieval.py`` so the in-memory default never imports SQLModel.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

__all__ = ["StoredOriginals"]


class StoredOriginals(SQLModel, table=True):
    """One set of dropped tool-output items, stored as JSON text under a short key."""

    __tablename__ = "headroom_originals"

    key: str = Field(primary_key=True, max_length=32)
    created_at: float = Field(index=True, description="Unix time the items were stored.")
    expires_at: float = Field(index=True, description="Unix time after which the row is ignored.")
    tool_name: str | None = Field(default=None, max_length=255)
    kind: str = Field(default="json", max_length=32)
    items: str = Field(description="The items as a JSON array.")
