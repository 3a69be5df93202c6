"""The dashboard API's route table and the one path every request takes through it.

``function_app.py`` registers one HTTP function per route (auth level ANONYMOUS: App Service Authentication or the
token decides, here) and calls ``serve``. A request goes: ``OPTIONS`` -> CORS preflight (no sign-in: a browser sends
none); a method the route lacks -> 405; the caller -> 401 or, for a write without the admin role, 403; a write from a
foreign origin -> 403; then the handler. Every error is ``{"error": "<reason>"}``: input 4xx, storage and Prometheus
503, a bug 500 (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, HttpResponseError

from . import handlers
from .api_settings import ApiSettings
from .auth import authenticate, check_write_origin, cors_headers, preflight, require_admin, roles_source
from .settings import SettingsError
from .web import MAX_BODY_BYTES, ApiError, ApiRequest, ApiResponse, MethodNotAllowed, Unavailable, error_response

if TYPE_CHECKING:
    import azure.functions as func

    from .api_clients import ApiClients

__all__ = ["ENDPOINTS", "Endpoint", "Handler", "dispatch", "from_http", "roles", "roles_response", "serve",
           "to_http"]

logger = logging.getLogger(__name__)

Handler = Callable[[ApiSettings, "ApiClients", ApiRequest], ApiResponse]
Context = Callable[[], "tuple[ApiSettings, ApiClients]"]

_COMMON = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    """The Function's name."""
    route: str
    """The route template under ``/api/``."""
    handlers: Mapping[str, Handler]
    """By method. ``GET`` is a read; any other method is a write and needs the admin role."""

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.handlers)


ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (
    Endpoint("api_jobs", "jobs", {"GET": handlers.list_jobs}),
    Endpoint("api_job", "jobs/{id}", {"GET": handlers.get_job}),
    Endpoint("api_job_retry", "jobs/{id}/retry", {"POST": handlers.retry_job}),
    Endpoint("api_poison", "poison", {"GET": handlers.list_poison}),
    Endpoint("api_uploads", "uploads", {"POST": handlers.create_upload}),
    Endpoint("api_fleet", "fleet", {"GET": handlers.fleet}),
)}


def _storage_reason(exc: AzureError) -> str:
    if isinstance(exc, HttpResponseError):
        code = getattr(exc, "error_code", None) or exc.reason
        return f"storage answered {exc.status_code} {code}; try again shortly"
    return f"storage is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"


def dispatch(endpoint: Endpoint, context: Context, request: ApiRequest) -> ApiResponse:
    """The response to ``request`` on ``endpoint``; ``context`` gives (settings, clients), read once by the caller."""
    try:
        settings, clients = context()
    except SettingsError as exc:
        logger.error("dashboard API not configured: %s", exc)
        return error_response(Unavailable(f"the API is not configured: {exc}")).with_headers(_COMMON)
    cors = cors_headers(settings, request)
    if request.method == "OPTIONS":
        return preflight(settings, request, endpoint.methods).with_headers(_COMMON)
    try:
        handler = endpoint.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"{request.method} is not supported on {request.path}; use "
                                   f"{' or '.join(endpoint.methods)}", (*endpoint.methods, "OPTIONS"))
        principal = authenticate(settings, request)
        if request.method != "GET":
            require_admin(principal)
            check_write_origin(settings, request)
        response = handler(settings, clients, request)
        if request.method != "GET":
            logger.info("%s %s by %s (%s) -> %d", request.method, request.path, principal.name, principal.via,
                        response.status)
    except ApiError as exc:
        response = error_response(exc)
    except AzureError as exc:
        logger.warning("%s %s: storage error: %s", request.method, request.path, exc)
        response = error_response(Unavailable(_storage_reason(exc)))
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        response = ApiResponse(500, {"error": "internal error; the Function's log has the details"})
    return response.with_headers({**cors, **_COMMON})


def from_http(req: func.HttpRequest) -> ApiRequest:
    """The runtime's request as an ``ApiRequest`` (header names lower-cased, the body cut at the limit + 1)."""
    body = req.get_body() or b""
    path = "/" + urlsplit(req.url).path.lstrip("/")
    return ApiRequest(method=req.method.upper(), path=path, headers={k.lower(): v for k, v in req.headers.items()},
                      params=dict(req.params), route_params=dict(req.route_params), body=body[:MAX_BODY_BYTES + 1])


def to_http(response: ApiResponse) -> func.HttpResponse:
    import azure.functions as func

    body = response.encoded()
    mimetype = "application/json" if body else None
    return func.HttpResponse(body or None, status_code=response.status, headers=dict(response.headers),
                             mimetype=mimetype, charset="utf-8")


def serve(name: str, context: Context, req: func.HttpRequest) -> func.HttpResponse:
    """The body of each HTTP function."""
    return to_http(dispatch(ENDPOINTS[name], context, from_http(req)))


def roles(context: Context, request: ApiRequest) -> ApiResponse:
    """``POST /api/roles``, Static Web Apps' ``rolesSource`` (called by the site, server to server, at sign-in):
    ``{"roles": [...]}`` from the posted claims. Served only behind the platform (``DASHBOARD_TRUST_EASY_AUTH``)."""
    try:
        settings, _ = context()
    except SettingsError as exc:
        return error_response(Unavailable(f"the API is not configured: {exc}")).with_headers(_COMMON)
    if not settings.trust_easy_auth:
        return ApiResponse(404, {"error": "roles are served to Static Web Apps only (DASHBOARD_TRUST_EASY_AUTH=true)"}
                           ).with_headers(_COMMON)
    if request.method != "POST":
        return ApiResponse(405, {"error": f"{request.method} is not supported on {request.path}; use POST"},
                           {"Allow": "POST"}).with_headers(_COMMON)
    try:
        return ApiResponse(200, {"roles": roles_source(request.body)}).with_headers(_COMMON)
    except ValueError as exc:
        return ApiResponse(400, {"error": f"a rolesSource call posts the user's claims: {exc}"}).with_headers(_COMMON)


def roles_response(context: Context, req: func.HttpRequest) -> func.HttpResponse:
    return to_http(roles(context, from_http(req)))
