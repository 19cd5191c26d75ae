"""Errors of ``headroom serve`` as the npm client reads them: ``{"error": {"type", "message"}}``.

The client turns 401 into ``HeadroomAuthError`` and a 4xx ``invalid_request_error`` into
``HeadroomCompressError`` (raised at once); on a 5xx it retries, then falls back to the original
messages. Errors in the caller's request are therefore 4xx, our own failures 5xx.
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import JSONResponse

from headroom_core.errors import (
    ConfigurationError,
    ContextOverflowError,
    HeadroomError,
    ProviderError,
    ValidationError,
)

__all__ = ["RequestError", "bad_request"]

_CALLER_ERRORS = (ValidationError, ConfigurationError, ProviderError, ContextOverflowError)


class RequestError(Exception):
    """An answer other than 200, raised anywhere while serving a request."""

    def __init__(self, status: HTTPStatus, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def response(self) -> JSONResponse:
        """The JSON answer."""
        body = {"error": {"type": self.error_type, "message": self.message}}
        return JSONResponse(body, status_code=self.status)

    @property
    def is_callers(self) -> bool:
        """Whether the caller's request was at fault (a 4xx): not a failure of the service."""
        return self.status < 500

    @classmethod
    def from_headroom_error(cls, error: HeadroomError) -> RequestError:
        """An engine error as the status and type the client acts on."""
        if isinstance(error, _CALLER_ERRORS):
            return cls(HTTPStatus.BAD_REQUEST, "invalid_request_error", error.message)
        return cls(HTTPStatus.INTERNAL_SERVER_ERROR, "compression_error", error.message)


def bad_request(message: str) -> RequestError:
    """A 400 ``invalid_request_error``."""
    return RequestError(HTTPStatus.BAD_REQUEST, "invalid_request_error", message)
