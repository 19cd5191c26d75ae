"""Retrievable originals: what a lossy crush dropped, kept under a short key.

A crusher that drops items calls :meth:`OriginalsStore.put` and writes the key into its marker;
the model can then call the ``headroom_retrieve`` tool (:func:`retrieval_tool_definition`) and the
adapter answers with :func:`retrieval_tool_result` (:func:`retrieve` gives the items themselves).
Keys derive from the content, so the same dropped items always get the same key and the compressed
prompt stays byte-stable for provider caches.

Stores are bounded and expire entries: in memory by default (LRU + time to live), or a SQL table
through SQLModel when many processes share one database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from headroom_core._retrieval_query import rank_items
from headroom_core.config import RetrievalConfig
from headroom_core.errors import CacheError, StorageError

logger = logging.getLogger(__name__)

__all__ = [
    "RETRIEVAL_TOOL_NAME",
    "InMemoryOriginalsStore",
    "OriginalsStore",
    "SQLOriginalsStore",
    "default_originals_store",
    "is_retrievable",
    "open_originals_store",
    "originals_key",
    "retrieval_tool_definition",
    "retrieval_tool_result",
    "retrieve",
]

RETRIEVAL_TOOL_NAME = "headroom_retrieve"
KEY_LENGTH = 10
MAX_ANSWER_ITEMS = 20
MAX_ANSWER_CHARS = 12_000

Clock = Callable[[], float]


@runtime_checkable
class OriginalsStore(Protocol):
    """Where dropped items wait until the model asks for them."""

    def put(self, items: list[Any], *, tool_name: str | None = None, kind: str = "json") -> str:
        """Store ``items`` and return their short key (the same items give the same key)."""
        ...

    def get(self, key: str) -> list[Any] | None:
        """The items stored under ``key``, or None when unknown or expired."""
        ...


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_HASH_PIECE_CHARS = 1 << 16
_BATCH_ITEMS = 32
"""Items serialised per call: ``json.dumps`` of a long list gathers one small string per value
before joining them (a peak several times the output); a short batch keeps that peak small and
still runs in C."""
_DEFLATE_FROM_BYTES = 65_536
"""In-memory entries larger than this are kept deflated (JSON shrinks five- to tenfold)."""


def _write_serialised(
    items: Sequence[Any], kind: str, write: Callable[[bytes | memoryview], object]
) -> str:
    """Write the items' compact JSON array to ``write`` piece by piece and return its key (see
    :func:`originals_key`); the array is never built as one text."""
    digest = _new_digest(kind)

    def emit(piece: bytes | memoryview) -> None:
        digest.update(piece)
        write(piece)

    emit(b"[")
    try:
        for start in range(0, len(items), _BATCH_ITEMS):
            part = _ENCODER.encode(list(items[start : start + _BATCH_ITEMS])).encode()
            if start:
                emit(b",")
            emit(memoryview(part)[1:-1])  # the items without their brackets
    except (TypeError, ValueError) as exc:
        raise CacheError(
            f"Items cannot be stored as JSON: {exc}", details={"count": len(items)}
        ) from exc
    emit(b"]")
    return digest.hexdigest()[:KEY_LENGTH]


def _new_digest(kind: str) -> Any:
    return hashlib.sha256(f"{kind}\0".encode())


def originals_key(payload: str, kind: str = "json") -> str:
    """The short, content-derived key of serialised items (10 hex characters).

    ``payload`` is the items' compact JSON array; it is hashed in pieces, so a large payload is
    never copied whole into bytes.
    """
    digest = _new_digest(kind)
    for start in range(0, len(payload), _HASH_PIECE_CHARS):
        digest.update(payload[start : start + _HASH_PIECE_CHARS].encode())
    return digest.hexdigest()[:KEY_LENGTH]


@dataclass(frozen=True)
class _Entry:
    # The items' compact JSON in pieces (joined only when read: dropped items are read rarely),
    # deflated when large.
    pieces: tuple[bytes | memoryview, ...]
    deflated: bool
    expires_at: float

    @property
    def size(self) -> int:
        return sum(map(len, self.pieces))

    def items(self) -> list[Any]:
        packed = b"".join(self.pieces)
        return json.loads(zlib.decompress(packed) if self.deflated else packed)  # type: ignore[no-any-return]


class _Packer:
    """Collects serialised pieces, deflating them once they pass :data:`_DEFLATE_FROM_BYTES`
    (a compressor's own state costs about 32 KB, more than a small payload would save)."""

    def __init__(self) -> None:
        self.pieces: list[bytes | memoryview] = []
        self.size = 0
        self._deflate: Any = None

    def write(self, piece: bytes | memoryview) -> None:
        if self._deflate is not None:
            self.pieces.append(self._deflate.compress(piece))
            return
        self.pieces.append(piece)
        self.size += len(piece)
        if self.size > _DEFLATE_FROM_BYTES:
            self._deflate = zlib.compressobj(1, zlib.DEFLATED, 12, 5)  # 4 KB window: 32 KB state
            self.pieces = [self._deflate.compress(piece) for piece in self.pieces]

    def entry(self, expires_at: float) -> _Entry:
        if self._deflate is not None:
            self.pieces.append(self._deflate.flush())
        return _Entry(tuple(self.pieces), self._deflate is not None, expires_at)


class InMemoryOriginalsStore:
    """A bounded, thread-safe in-memory store: least recently used entries go first, and entries
    older than ``ttl_seconds`` are gone.

    Args:
        max_entries: Most entries kept.
        ttl_seconds: Lifetime of an entry, refreshed when the same items are stored again.
        clock: Source of the current time in seconds (injectable for tests).

    Examples:
        >>> store = InMemoryOriginalsStore(max_entries=10)
        >>> key = store.put([{"id": 7, "status": "failed"}], tool_name="list_jobs")
        >>> store.get(key)
        [{'id': 7, 'status': 'failed'}]
    """

    def __init__(
        self, max_entries: int = 1000, ttl_seconds: float = 3600.0, *, clock: Clock = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._next_purge = float("-inf")

    def __len__(self) -> int:
        with self._lock:
            self._purge_expired(self._clock())
            return len(self._entries)

    def put(
        self, items: Sequence[Any], *, tool_name: str | None = None, kind: str = "json"
    ) -> str:
        """Store ``items``; see :class:`OriginalsStore` (only SQL stores keep ``tool_name``)."""
        packer = _Packer()
        key = _write_serialised(items, kind, packer.write)
        now = self._clock()
        with self._lock:
            self._entries[key] = packer.entry(now + self.ttl_seconds)
            self._entries.move_to_end(key)
            if now >= self._next_purge:  # a full scan now and then, not on every put
                self._purge_expired(now)
                self._next_purge = now + self.ttl_seconds / 8
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return key

    def get(self, key: str) -> list[Any] | None:
        """The items under ``key`` (a fresh copy), or None; see :class:`OriginalsStore`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires_at <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        return entry.items()

    def has(self, key: str) -> bool:
        """Whether ``key`` can still be read (cheaper than :meth:`get`: nothing is decoded)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.expires_at > self._clock()

    def delete(self, key: str) -> bool:
        """Forget ``key``; True when it was there."""
        with self._lock:
            return self._entries.pop(key, None) is not None

    def _purge_expired(self, now: float) -> None:
        expired = [key for key, entry in self._entries.items() if entry.expires_at <= now]
        for key in expired:
            del self._entries[key]


class SQLOriginalsStore:
    """Dropped items in the SQL table ``headroom_originals`` (SQLite or PostgreSQL via SQLModel),
    shared by every process that uses the same URL.

    Expired rows are ignored on read and purged on write, as are the oldest rows beyond
    ``max_entries``.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///headroom.db`` or
            ``postgresql+psycopg://user@host/db`` (the ``postgres`` extra).
        ttl_seconds: Lifetime of a row.
        max_entries: Most rows kept (shared by every process using the table); None for no
            bound but the time to live.
        clock: Source of the current Unix time (injectable for tests).

    Raises:
        ConfigurationError: When the URL is malformed or its database driver is not installed.
        StorageError: When the database cannot be reached or the table cannot be created.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 3600.0,
        max_entries: int | None = None,
        clock: Clock = time.time,
    ) -> None:
        from sqlalchemy import make_url

        from headroom_core._originals_table import StoredOriginals
        from headroom_core.storage import create_sql_engine

        self.url = url
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._table = StoredOriginals
        self._engine = create_sql_engine(url)
        self._safe_url = make_url(url).render_as_string(hide_password=True)
        try:
            StoredOriginals.__table__.create(self._engine, checkfirst=True)  # type: ignore[attr-defined]
        except Exception as exc:
            raise StorageError(
                f"Cannot open the originals store at {self._safe_url}: {exc}",
                details={"url": self._safe_url},
            ) from exc

    def __repr__(self) -> str:
        return f"SQLOriginalsStore({self._safe_url!r})"

    def put(
        self, items: Sequence[Any], *, tool_name: str | None = None, kind: str = "json"
    ) -> str:
        """Store ``items``; see :class:`OriginalsStore`."""
        from sqlmodel import Session

        pieces: list[bytes | memoryview] = []
        key = _write_serialised(items, kind, pieces.append)
        now = self._clock()
        row = self._table(
            key=key,
            created_at=now,
            expires_at=now + self.ttl_seconds,
            tool_name=tool_name,
            kind=kind,
            items=b"".join(pieces).decode(),
        )
        try:
            with Session(self._engine) as session:
                session.merge(row)
                self._purge(session, now)
                session.commit()
        except Exception as exc:
            raise StorageError(
                f"Cannot store originals under {key}: {exc}", details={"key": key}
            ) from exc
        return key

    def _purge(self, session: Any, now: float) -> None:
        """Delete expired rows and the oldest rows beyond ``max_entries``."""
        from sqlmodel import col, delete, select

        table = self._table
        session.exec(delete(table).where(col(table.expires_at) <= now))
        if self.max_entries is not None:
            newest_first = select(table.key).order_by(col(table.created_at).desc(), col(table.key))
            surplus = newest_first.offset(self.max_entries)
            session.exec(delete(table).where(col(table.key).in_(surplus)))

    def get(self, key: str) -> list[Any] | None:
        """The items under ``key``, or None; see :class:`OriginalsStore`."""
        from sqlmodel import Session

        try:
            with Session(self._engine) as session:
                row = session.get(self._table, key)
        except Exception as exc:
            raise StorageError(
                f"Cannot read originals under {key}: {exc}", details={"key": key}
            ) from exc
        if row is None or row.expires_at <= self._clock():
            return None
        return json.loads(row.items)

    def has(self, key: str) -> bool:
        """Whether ``key`` can still be read (only its expiry is fetched)."""
        from sqlmodel import Session, col, select

        table = self._table
        query = select(table.expires_at).where(col(table.key) == key)
        try:
            with Session(self._engine) as session:
                expires_at = session.exec(query).first()
        except Exception as exc:
            raise StorageError(
                f"Cannot read originals under {key}: {exc}", details={"key": key}
            ) from exc
        return expires_at is not None and expires_at > self._clock()

    def delete(self, key: str) -> bool:
        """Forget ``key``; True when it was there."""
        from sqlmodel import Session

        with Session(self._engine) as session:
            row = session.get(self._table, key)
            if row is None:
                return False
            session.delete(row)
            session.commit()
            return True

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()


_default_stores: dict[str | None, OriginalsStore] = {}
_default_lock = threading.Lock()


def default_originals_store(config: RetrievalConfig | None = None) -> OriginalsStore:
    """The process-wide store for ``config`` (one per store URL; in memory when no URL is set).

    The first call for a URL fixes that store's bounds; later calls share it, so a crusher and
    :func:`retrieve` meet in the same store without passing it around.
    """
    config = config or RetrievalConfig()
    url = config.store_url
    store = _default_stores.get(url)
    if store is None:
        with _default_lock:
            store = _default_stores.get(url)
            if store is None:
                store = (
                    SQLOriginalsStore(
                        url, ttl_seconds=config.ttl_seconds, max_entries=config.max_entries
                    )
                    if url
                    else InMemoryOriginalsStore(config.max_entries, config.ttl_seconds)
                )
                _default_stores[url] = store
    return store


def open_originals_store(config: RetrievalConfig | None = None) -> OriginalsStore | None:
    """:func:`default_originals_store` for the request path: None, with a warning, when its
    database cannot be opened, so retrieval is off for that request and compression goes on."""
    try:
        return default_originals_store(config)
    except StorageError as exc:
        logger.warning("Retrieval is off for this request: %s", exc.message)
        return None


def is_retrievable(store: OriginalsStore, key: str) -> bool:
    """Whether ``store`` still holds ``key``; uses the store's ``has`` when it has one."""
    has = getattr(store, "has", None)
    return bool(has(key)) if callable(has) else store.get(key) is not None


def retrieve(key: str, query: str | None = None, store: OriginalsStore | None = None) -> list[Any]:
    """Items a crush dropped, by the key its marker shows.

    Args:
        key: The key from the compressed output's marker.
        query: When given, only the items matching it, best first: ``id 200``, ``id=200``,
            ``status: failed``, a quoted phrase or a few words. Field names match fields and
            values match values; a whole value ranks before a word inside a longer one, and
            numbers never match inside other numbers. When no item matches every specific term
            (a field and value, a phrase, a number or identifier), the items sharing a word
            with the query, ranked by BM25.
        store: Where to look; the process-wide default store when omitted.

    Returns:
        All stored items in their original order, or the matching ones best first.

    Raises:
        CacheError: When the key is unknown or has expired.

    Examples:
        >>> store = InMemoryOriginalsStore()
        >>> key = store.put([{"id": 7, "ms": 200}, {"id": 200, "ms": 7}])
        >>> retrieve(key, query="id 200", store=store)
        [{'id': 200, 'ms': 7}]
    """
    items = _stored(key, store)
    if not query or not query.strip():
        return items
    return [items[position] for position in rank_items(items, query).positions]


def _stored(key: str, store: OriginalsStore | None) -> list[Any]:
    items = (store if store is not None else default_originals_store()).get(key)
    if items is None:
        raise CacheError(
            f"Nothing is stored under key {key!r}: the key is wrong, or the items expired "
            "(they are kept for a limited time). Call the tool that produced the output again "
            "to get them.",
            details={"key": key},
        )
    return items


def retrieval_tool_definition() -> dict[str, Any]:
    """The OpenAI function-tool definition adapters offer so the model can fetch dropped items."""
    return {
        "type": "function",
        "function": {
            "name": RETRIEVAL_TOOL_NAME,
            "description": (
                "Fetch items that were left out of a compressed tool output. Use the key shown in "
                "the output's omission marker; add a query to get only the matching items, e.g. "
                "'id 200', 'status: failed', a quoted phrase or a few words."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "key": {"type": "string", "description": "The key from the omission marker."},
                    "query": {
                        "type": "string",
                        "description": "Optional: what to match; omit to get every left-out item.",
                    },
                    "offset": {
                        "type": "integer",
                        "description": "Optional: skip this many matching items (to page on).",
                    },
                },
                "required": ["key"],
                "additionalProperties": False,
            },
        },
    }


def retrieval_tool_result(
    arguments: str | Mapping[str, Any], store: OriginalsStore | None = None
) -> str:
    """Answer a ``headroom_retrieve`` tool call: the content of the tool message to send back.

    Never raises for the model's mistakes, nor for a store that cannot be read (logged): an
    unknown or expired key, malformed arguments or a store that is down come back as
    ``{"error": ...}`` saying what to do instead. A large answer is cut to
    ``MAX_ANSWER_ITEMS`` items (and about ``MAX_ANSWER_CHARS`` characters) with a note giving
    the ``offset`` that pages on.

    Args:
        arguments: The call's arguments, as the JSON string the model produced or a dict:
            ``key``, optionally ``query`` and ``offset``.
        store: Where to look; the process-wide default store when omitted.

    Returns:
        JSON: ``{"key", "stored", "matched", "offset", "items"}`` and, when not every match is
        shown or no item matched every term, a ``note``; or ``{"error"}``.

    Examples:
        >>> store = InMemoryOriginalsStore()
        >>> key = store.put([{"id": 3, "status": "failed"}, {"id": 4, "status": "ok"}])
        >>> answer = retrieval_tool_result({"key": key, "query": "status failed"}, store=store)
        >>> json.loads(answer)["items"], json.loads(answer)["matched"]
        ([{'id': 3, 'status': 'failed'}], 1)
    """
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
    except (TypeError, ValueError) as exc:
        return json.dumps({"error": f"arguments are not a JSON object: {exc}"})
    if not isinstance(parsed, dict):
        parsed = {}
    key, query, offset = parsed.get("key"), parsed.get("query"), parsed.get("offset") or 0
    if (
        not isinstance(key, str)
        or not (query is None or isinstance(query, str))
        or not isinstance(offset, int)
        or offset < 0
    ):
        return json.dumps(
            {"error": "pass 'key' (a string), optionally 'query' (a string) and 'offset' (>= 0)"}
        )
    try:
        items = _stored(key, store)
    except CacheError as exc:
        return json.dumps({"error": exc.message})
    except StorageError as exc:  # a store that is down costs the answer, never the model call
        logger.warning("Could not read retrieval key %s: %s", key, exc.message)
        return json.dumps(
            {"error": "the store of left-out items cannot be read now; answer from what is shown"}
        )
    ranking = rank_items(items, query or "")
    shown: list[Any] = []
    size = 0
    for position in ranking.positions[offset : offset + MAX_ANSWER_ITEMS]:
        item = items[position]
        size += len(item) if isinstance(item, str) else len(_ENCODER.encode(item))
        if shown and size > MAX_ANSWER_CHARS:
            break
        shown.append(item)
    answer: dict[str, Any] = {
        "key": key,
        "stored": len(items),
        "matched": len(ranking.positions),
        "offset": offset,
        "items": shown,
    }
    notes = []
    if not ranking.positions:
        notes.append(
            "no left-out item matches the query; what it asks for may be among the items shown"
        )
    elif not ranking.complete:
        notes.append("no item matched every term; these share words with the query")
    rest = len(ranking.positions) - offset - len(shown)
    if rest > 0:
        notes.append(f"{rest} more; call again with offset {offset + len(shown)} to see them")
    if notes:
        answer["note"] = "; ".join(notes)
    return json.dumps(answer, ensure_ascii=False)
