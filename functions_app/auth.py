"""Who is calling, and from which origin.

Two ways in, no anonymous access:

* **App Service Authentication** (Entra ID), trusted only when ``DASHBOARD_TRUST_EASY_AUTH=true``: the platform
  validates the sign-in and passes the principal in ``X-MS-CLIENT-PRINCIPAL``, removing any such header a client
  sends. Two forms arrive: App Service's own (base64 JSON with ``claims``: the app role ``admin`` in claims of type
  ``roles`` or the principal's ``role_typ``) and Static Web Apps' through its linked backend (``userDetails`` and
  ``userRoles``, no claims; the site learns the Entra app roles from ``roles_source``, its ``rolesSource``
  function). Any signed-in principal reads; ``admin`` may also write. Without the setting the header is ignored, so
  that where no platform stands in front (locally) a forged header grants nothing.
* **A bearer token**, ``DASHBOARD_TOKEN``: ``Authorization: Bearer <token>`` is an admin. For local use and tests.

CORS: only ``DASHBOARD_ORIGIN`` is allowed, and a write from any other origin (the ``Origin`` header a browser sends)
is refused, so a page elsewhere cannot use a signed-in browser's cookie to act.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from typing import Any

from .api_settings import ApiSettings
from .web import ApiRequest, ApiResponse, Forbidden, Unauthorized

__all__ = ["ADMIN_ROLE", "PRINCIPAL_HEADER", "Principal", "authenticate", "check_write_origin", "cors_headers",
           "preflight", "require_admin", "roles_source"]

ADMIN_ROLE = "admin"
PRINCIPAL_HEADER = "x-ms-client-principal"
_ROLE_TYPES = {"roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
_NAME_TYPES = ("name", "preferred_username", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
_MAX_PRINCIPAL = 32 * 1024


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]
    via: str
    """``easy-auth`` or ``token``."""

    @property
    def admin(self) -> bool:
        return ADMIN_ROLE in self.roles


def _claims_principal(raw: str) -> Principal:
    if len(raw) > _MAX_PRINCIPAL:
        raise Unauthorized("the X-MS-CLIENT-PRINCIPAL header is too large")
    try:
        data: Any = json.loads(base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise Unauthorized("the X-MS-CLIENT-PRINCIPAL header is not base64 JSON") from None
    if isinstance(data, dict) and "claims" not in data and isinstance(data.get("userRoles"), list):
        # Static Web Apps' form: the roles it assigned (built-in anonymous/authenticated, and those roles_source
        # returned), the user's name; no claims
        roles = frozenset(str(r) for r in data["userRoles"] if isinstance(r, str))
        if "authenticated" not in roles:
            raise Unauthorized("the X-MS-CLIENT-PRINCIPAL header is not of a signed-in user")
        return Principal(str(data.get("userDetails") or "signed-in user"), roles, "easy-auth")
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, list):
        raise Unauthorized("the X-MS-CLIENT-PRINCIPAL header has no claims")
    role_types = set(_ROLE_TYPES)
    if isinstance(data.get("role_typ"), str):
        role_types.add(data["role_typ"])
    pairs = [(c.get("typ"), c.get("val")) for c in claims if isinstance(c, dict)]
    roles = frozenset(str(v) for t, v in pairs if t in role_types and isinstance(v, str))
    names = {t: v for t, v in pairs if isinstance(t, str) and isinstance(v, str)}
    name = next((names[t] for t in _NAME_TYPES if t in names), "signed-in user")
    return Principal(name, roles, "easy-auth")


def authenticate(settings: ApiSettings, request: ApiRequest) -> Principal:
    """The caller, or ``Unauthorized``. A trusted principal header wins over a token (on Azure the ``Authorization``
    header may carry the Entra ID token the platform already validated)."""
    header = request.header(PRINCIPAL_HEADER)
    if header and settings.trust_easy_auth:
        return _claims_principal(header.strip())
    authorization = (request.header("authorization") or "").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip() and settings.dashboard_token:
        if hmac.compare_digest(token.strip().encode(), settings.dashboard_token.encode()):
            return Principal("dashboard-token", frozenset({ADMIN_ROLE}), "token")
        raise Unauthorized("the bearer token is not valid")
    if settings.trust_easy_auth:
        raise Unauthorized("sign in first (App Service Authentication), or send Authorization: Bearer <token>")
    if settings.dashboard_token:
        raise Unauthorized("send Authorization: Bearer <DASHBOARD_TOKEN>")
    raise Unauthorized("no sign-in is configured: set DASHBOARD_TRUST_EASY_AUTH=true behind App Service "
                       "Authentication, or DASHBOARD_TOKEN")


def roles_source(body: bytes) -> list[str]:
    """The roles Static Web Apps should give a user who just signed in: the Entra app roles among the claims it
    posts (``{"identityProvider", "userId", "userDetails", "claims": [{"typ", "val"}], "accessToken"}``). It grants
    nothing by itself: the site calls it server to server and puts the answer in the principal it forwards, and a
    caller posting claims of its own only gets them echoed. ``ValueError`` names what is wrong with the body."""
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("the body is not JSON") from None
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, list):
        raise ValueError("the body has no claims list")
    return sorted({str(c["val"]) for c in claims if isinstance(c, dict) and c.get("typ") in _ROLE_TYPES
                   and isinstance(c.get("val"), str)})


def require_admin(principal: Principal) -> None:
    if not principal.admin:
        raise Forbidden(f"{principal.name} may read but not change anything: the app role {ADMIN_ROLE!r} is "
                        "needed for uploads and retries")


def _own_origins(request: ApiRequest) -> set[str]:
    hosts = {request.header(h) for h in ("host", "x-forwarded-host", "x-original-host")}
    return {f"{scheme}://{h.split(',')[0].strip().lower()}" for h in hosts if h for scheme in ("http", "https")}


def check_write_origin(settings: ApiSettings, request: ApiRequest) -> None:
    """A write from a browser page on another origin than the dashboard's (or this host's own) is refused."""
    origin = (request.header("origin") or "").strip().lower()
    if not origin:
        return  # not a browser, or a same-origin request of an older browser
    if origin == settings.dashboard_origin or origin in _own_origins(request):
        return
    raise Forbidden(f"a write from the origin {origin!r} is refused; only DASHBOARD_ORIGIN may write")


def cors_headers(settings: ApiSettings, request: ApiRequest) -> dict[str, str]:
    """Headers for a response to an allowed origin; nothing for any other."""
    origin = (request.header("origin") or "").strip()
    if not origin or settings.dashboard_origin is None or origin.lower() != settings.dashboard_origin:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def preflight(settings: ApiSettings, request: ApiRequest, methods: tuple[str, ...]) -> ApiResponse:
    """The answer to ``OPTIONS``: 204 with the allowed methods for ``DASHBOARD_ORIGIN``, 403 for other origins."""
    headers = cors_headers(settings, request)
    if "Access-Control-Allow-Origin" not in headers:
        origin = request.header("origin")
        reason = (f"the origin {origin!r} is not allowed (DASHBOARD_ORIGIN)" if origin
                  else "an OPTIONS request needs an Origin header (a CORS preflight)")
        return ApiResponse(403, {"error": reason}, headers)
    headers.update({"Access-Control-Allow-Methods": ", ".join((*methods, "OPTIONS")),
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Max-Age": "600"})
    return ApiResponse(204, None, headers)
