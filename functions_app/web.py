"""The dashboard API's request, response and errors, free of the Functions runtime so that handlers are plain
functions: ``handler(settings, clients, ApiRequest) -> ApiResponse``.

Errors (each is one HTTP status and a sentence; the response body is ``{"error": "<sentence>"}``)::

    ApiError                       .status, .reason
     ├ BadRequest (ValueError)     400: malformed JSON, wrong types, out-of-range values, unknown parameters
     │  ├ PayloadTooLarge          413
     │  └ UnsupportedMediaType     415: a POST body that is not application/json
     ├ Unauthorized                401: no valid principal or token
     ├ Forbidden                   403: signed in, without the role
     ├ NotFound                    404
     ├ MethodNotAllowed            405  .allowed
     ├ Conflict                    409: the job is not in a state that allows the action
     └ Unavailable                 503: storage or Prometheus did not answer, or a setting is missing
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_BODY_BYTES", "ApiError", "ApiRequest", "ApiResponse", "BadRequest", "Conflict", "Forbidden",
           "MethodNotAllowed", "NotFound", "PayloadTooLarge", "Unauthorized", "Unavailable", "UnsupportedMediaType",
           "error_response", "json_object", "query"]

MAX_BODY_BYTES = 64 * 1024
"""The largest request body read: every body of this API is a small JSON object."""


class ApiError(Exception):
    status = 500

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class BadRequest(ApiError, ValueError):
    status = 400


class PayloadTooLarge(BadRequest):
    status = 413


class UnsupportedMediaType(BadRequest):
    status = 415


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405

    def __init__(self, reason: str, allowed: tuple[str, ...]) -> None:
        super().__init__(reason)
        self.allowed = allowed


class Conflict(ApiError):
    status = 409


class Unavailable(ApiError):
    status = 503


@dataclass(frozen=True)
class ApiRequest:
    """One request. Header names are lower case; ``params`` is the query string (one value per name)."""

    method: str
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    route_params: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class ApiResponse:
    status: int = 200
    body: Any = None
    """JSON-serialisable; ``None`` sends no body (204)."""
    headers: Mapping[str, str] = field(default_factory=dict)

    def with_headers(self, extra: Mapping[str, str]) -> ApiResponse:
        return ApiResponse(self.status, self.body, {**self.headers, **extra})

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_response(exc: ApiError) -> ApiResponse:
    headers = {"Allow": ", ".join(exc.allowed)} if isinstance(exc, MethodNotAllowed) else {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="transcoder-dashboard"'
    return ApiResponse(exc.status, {"error": exc.reason}, headers)


def query(request: ApiRequest, *allowed: str) -> dict[str, str]:
    """The query parameters, refusing any not in ``allowed`` (a typo must not silently mean "no filter")."""
    unknown = sorted(set(request.params) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; accepted: {accepted}")
    return dict(request.params)


def json_object(request: ApiRequest, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = (),
                empty_ok: bool = False) -> dict[str, Any]:
    """The body as a JSON object with exactly the named fields (``required`` present, nothing unknown).

    The body must be declared ``application/json``: with a cookie-based sign-in that keeps another site's plain
    form post from acting, since a cross-origin JSON request needs a CORS preflight first."""
    if len(request.body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is {len(request.body)} bytes; the limit is {MAX_BODY_BYTES}")
    if not request.body.strip() and empty_ok:
        data: Any = {}
    else:
        kind = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
        if kind != "application/json":
            raise UnsupportedMediaType(f"send the body as application/json (Content-Type was {kind or 'missing'!r})")
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise BadRequest(f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the body must be a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; accepted: {', '.join((*required, *optional)) or 'none'}")
    missing = [name for name in required if name not in data]
    if missing:
        raise BadRequest(f"the field {missing[0]!r} is required")
    return data
