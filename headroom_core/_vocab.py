"""Offline loading of tiktoken vocabularies.

Order of sources: tiktoken's own cache (as tiktoken itself would read it), then the copies shipped
in ``headroom_core/data``. Every source is checked against tiktoken's published sha256 before use,
and nothing in the user's environment is changed. One encoder per name per process.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import tiktoken

from headroom_core.errors import TokenizationError

__all__ = ["ENCODING_SPECS", "EncodingSpec", "get_encoding", "tiktoken_cache_path"]


@dataclass(frozen=True)
class EncodingSpec:
    """Where an encoding's ranks come from and how to check them (tiktoken's published values)."""

    name: str
    url: str
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"

ENCODING_SPECS: dict[str, EncodingSpec] = {
    "o200k_base": EncodingSpec(
        name="o200k_base",
        url="https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
    "cl100k_base": EncodingSpec(
        name="cl100k_base",
        url="https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
        special_tokens={
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
}

#: Where the vocabularies shipped with the package live.
_SHIPPED = resources.files("headroom_core") / "data"

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def tiktoken_cache_path(spec: EncodingSpec) -> Path | None:
    """The file tiktoken itself would cache ``spec`` in, or None when caching is disabled."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if cache_dir == "":
        return None
    return Path(cache_dir) / hashlib.sha1(spec.url.encode()).hexdigest()


def _verified(data: bytes, spec: EncodingSpec, source: str) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise TokenizationError(
            f"Vocabulary {spec.name} from {source} failed its checksum "
            f"(expected {spec.sha256}, got {digest}); reinstall the package.",
            details={"encoding": spec.name, "source": source, "sha256": digest},
        )
    return data


def _read_ranks_bytes(spec: EncodingSpec) -> bytes:
    cached = tiktoken_cache_path(spec)
    if cached is not None and cached.is_file():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == spec.sha256:
            return data
    shipped = _SHIPPED / f"{spec.name}.tiktoken.gz"
    try:
        raw = gzip.decompress(shipped.read_bytes())
    except (OSError, EOFError) as exc:
        raise TokenizationError(
            f"Vocabulary {spec.name} is not in tiktoken's cache and the shipped copy cannot be "
            f"read: {exc}",
            details={"encoding": spec.name},
        ) from exc
    return _verified(raw, spec, "package data")


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def get_encoding(name: str) -> tiktoken.Encoding:
    """Return the process-wide encoder for ``name``, loading it offline on first use."""
    encoding = _encodings.get(name)
    if encoding is not None:
        return encoding
    spec = ENCODING_SPECS.get(name)
    if spec is None:
        raise TokenizationError(
            f"Unknown encoding {name!r}; known: {sorted(ENCODING_SPECS)}",
            details={"encoding": name},
        )
    with _lock:
        encoding = _encodings.get(name)
        if encoding is None:
            encoding = tiktoken.Encoding(
                name=spec.name,
                pat_str=spec.pat_str,
                mergeable_ranks=_parse_ranks(_read_ranks_bytes(spec)),
                special_tokens=spec.special_tokens,
            )
            _encodings[name] = encoding
    return encoding
