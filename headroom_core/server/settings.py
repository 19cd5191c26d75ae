"""Settings of ``headroom serve``: validated once, when the service is built."""

from __future__ import annotations

import os
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from headroom_core.config import HeadroomConfig, configuration_error

__all__ = [
    "ANTHROPIC_TARGET_ENV",
    "API_KEY_ENV",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "OPENAI_TARGET_ENV",
    "ServerSettings",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
MAX_BODY_BYTES = 20 * 1024 * 1024
API_KEY_ENV = "HEADROOM_API_KEY"
OPENAI_TARGET_ENV = "OPENAI_TARGET_API_URL"
ANTHROPIC_TARGET_ENV = "ANTHROPIC_TARGET_API_URL"
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_ANTHROPIC_URL = "https://api.anthropic.com"


def _from_env(name: str, default: str) -> Any:
    return lambda: os.environ.get(name) or default


class ServerSettings(BaseModel):
    """Everything ``headroom serve`` runs with.

    Args:
        host: Interface to bind; loopback by default so nothing is exposed by accident.
        port: TCP port (0 picks a free one when the app runs in-process).
        workers: Processes serving requests; they share the metrics and retrieval stores.
        api_key: Key Headroom's own endpoints require (``Authorization: Bearer <key>``); by
            default ``$HEADROOM_API_KEY``; None leaves them open.
        store_url: Metrics store; None records nothing. With several workers, dropped items
            are kept in the same database (a key from one worker is answered by every one).
        openai_api_url: The base an OpenAI SDK uses (ending in ``/v1``); by default
            ``$OPENAI_TARGET_API_URL`` or OpenAI's public API.
        anthropic_api_url: The Anthropic SDK's base; by default ``$ANTHROPIC_TARGET_API_URL`` or
            Anthropic's public API.
        max_body_bytes: Larger request bodies get 413 without being read.
        request_timeout: Seconds optimizing one request may take (504 after).
        upstream_timeout: Seconds to wait for the provider (502/504 after).
        config: The engine's settings.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    api_key: str | None = Field(default_factory=lambda: os.environ.get(API_KEY_ENV) or None)
    store_url: str | None = "sqlite:///headroom.db"
    openai_api_url: str = Field(default_factory=_from_env(OPENAI_TARGET_ENV, DEFAULT_OPENAI_URL))
    anthropic_api_url: str = Field(
        default_factory=_from_env(ANTHROPIC_TARGET_ENV, DEFAULT_ANTHROPIC_URL)
    )
    max_body_bytes: int = Field(MAX_BODY_BYTES, ge=1)
    request_timeout: float = Field(120.0, gt=0)
    upstream_timeout: float = Field(600.0, gt=0)
    config: HeadroomConfig = Field(default_factory=HeadroomConfig)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None

    @field_validator("openai_api_url", "anthropic_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return value.rstrip("/")

    @property
    def retrieval_store_url(self) -> str | None:
        """Where dropped items are kept: the config's choice; else, with several workers, the
        metrics database (shared by every worker), or a SQLite file when there is none."""
        chosen = self.config.retrieval.store_url
        if chosen or self.workers == 1:
            return chosen
        return self.store_url or "sqlite:///headroom.db"
