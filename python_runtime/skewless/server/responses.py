"""Errors as HTTP responses: every failure is `{"error": {"code": …, "message": …}}` with a status
chosen by the skewless error class (the table is in docs/server.md), never a stack trace."""

from __future__ import annotations

import orjson

from skewless.errors import (
    BrokenViewError,
    DeadlineExceeded,
    ExpressionError,
    ManifestError,
    NotMaterializedError,
    NotReproducible,
    OnlineStoreError,
    RequestError,
    RequestLimitError,
    RetiredVersionError,
    SkewlessError,
    StaleFeatureError,
    StoreUnavailableError,
    UnknownFeatureError,
)

__all__ = ["ERROR_CODES", "HttpError", "error_body", "from_exception"]

#: skewless error class → (HTTP status, error code), most specific first.
_BY_CLASS: tuple[tuple[type[BaseException], int, str], ...] = (
    (RequestLimitError, 400, "request_limit"),
    (RequestError, 400, "bad_request"),
    (UnknownFeatureError, 404, "unknown_feature"),
    (BrokenViewError, 503, "broken_view"),
    (RetiredVersionError, 410, "retired_version"),
    (NotMaterializedError, 503, "not_materialized"),
    (StaleFeatureError, 503, "stale_feature"),
    (DeadlineExceeded, 503, "deadline_exceeded"),
    (StoreUnavailableError, 503, "store_unavailable"),
    (OnlineStoreError, 503, "online_store_error"),
    (NotReproducible, 400, "not_reproducible"),
    (ExpressionError, 400, "expression_error"),
    (ManifestError, 503, "definitions_unavailable"),
)

#: Every error code the server answers with, and its HTTP status.
ERROR_CODES: dict[str, int] = {
    **{code: status for _cls, status, code in _BY_CLASS},
    "invalid_json": 400,
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "body_too_large": 413,
    "offline_unavailable": 503,
    "skewless_error": 422,
    "internal_error": 500,
}


class HttpError(Exception):
    """An error response to send: status, code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def from_exception(e: BaseException) -> HttpError:
    """The response of a skewless error (any other exception is a bug: `internal_error`, with
    no detail in the body — the server logs it)."""
    if isinstance(e, HttpError):
        return e
    if isinstance(e, SkewlessError):
        for cls, status, code in _BY_CLASS:
            if isinstance(e, cls):
                return HttpError(status, code, str(e))
        return HttpError(422, "skewless_error", str(e))
    return HttpError(500, "internal_error", "internal error; the server log has the details")


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})
