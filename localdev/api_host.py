"""The Function app's HTTP functions on loopback, served the way the Functions host serves them, plus the dashboard.

The route table is the app's own: the HTTP triggers found by indexing ``functions_app.function_app.app`` (their
``route`` under ``/api/`` and ``methods``). Each request becomes a ``func.HttpRequest`` (method, URL, headers, query
parameters, route parameters, body) handed to the registered function; its ``func.HttpResponse`` is written back.
Other paths serve the dashboard's build (``dashboard/dist``) when it exists: a file when there is one, else
``index.html`` (the single-page app routes in the browser). Given the outputs container, ``/playback/<blob>`` serves
the published packages to the dashboard's player, signed in with the same token, as Front Door serves them on Azure
(``PLAYBACK_BASE_URL`` then defaults to it): a player follows a playlist's relative links, which a SAS on one blob
does not cover.

    host = ApiHost({"TranscodeStorage": conn, "DASHBOARD_TOKEN": token}).start()
    print(host.url)      # http://127.0.0.1:<port>; DASHBOARD_ORIGIN defaults to it
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func
from azure.storage.blob import ContainerClient

__all__ = ["DIST", "ApiHost", "Route", "http_routes"]

logger = logging.getLogger(__name__)

DIST = Path(__file__).resolve().parent.parent / "dashboard" / "dist"
ROUTE_PREFIX = "/api/"
PLAYBACK_PREFIX = "/playback/"
PACKAGE_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml", ".m4s": "video/iso.segment",
                 ".mp4": "video/mp4", ".ts": "video/mp2t", ".jpg": "image/jpeg", ".json": "application/json"}
MAX_BODY = 1024 * 1024
_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}$")


@dataclass(frozen=True)
class Route:
    name: str
    template: str
    methods: frozenset[str] | None
    """``None``: every method (no ``methods`` in the binding)."""
    arg: str
    function: Callable[..., Any]

    def match(self, path: str) -> dict[str, str] | None:
        """Route parameters when ``path`` (below ``/api/``) fits the template; literals compare case-insensitively."""
        parts = path.split("/") if path else []
        params: dict[str, str] = {}
        for i, segment in enumerate(self.template.split("/")):
            param = _PARAM.match(segment)
            if param and param.group(1):  # {*rest}: the remainder, possibly empty
                params[param.group(2)] = unquote("/".join(parts[i:]))
                return params
            if i >= len(parts) or not parts[i]:
                return None
            if param:
                params[param.group(2)] = unquote(parts[i])
            elif parts[i].lower() != segment.lower():
                return None
        return params if len(parts) == len(self.template.split("/")) else None


def http_routes(app: func.FunctionApp) -> list[Route]:
    """The app's HTTP functions, literal routes first. The library refuses to index an app twice per process (its
    duplicate-name check remembers every name); the blob-event host may have indexed this app already, so the check's
    memory is set aside for this indexing and restored after it."""
    seen = app.functions_bindings
    app.functions_bindings = {}
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        functions = app.get_functions()
    finally:
        app.functions_bindings = seen
        root.setLevel(level)
    routes = []
    for fn in functions:
        binding = next((b for b in json.loads(fn.get_function_json())["bindings"] if b["type"] == "httpTrigger"), None)
        if binding is None:
            continue
        methods = binding.get("methods")
        routes.append(Route(str(fn.get_function_name()), str(binding.get("route") or fn.get_function_name()),
                            frozenset(m.upper() for m in methods) if methods else None, str(binding["name"]),
                            fn.get_user_function()))
    return sorted(routes, key=lambda r: (r.template.count("{"), "{*" in r.template, r.template))


def _json(status: int, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps({"error": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _handle(self) -> None:
        split = urlsplit(self.path)
        if split.path == "/api" or split.path.startswith(ROUTE_PREFIX):
            status, headers, body = self._api(split.path[len(ROUTE_PREFIX):], split.query)
        elif split.path.startswith(PLAYBACK_PREFIX) and self.server.host.playback is not None:
            status, headers, body = self.server.host.play(unquote(split.path[len(PLAYBACK_PREFIX):]), self.command,
                                                          self.headers.get("Authorization", ""))
        else:
            status, headers, body = self.server.host.static(split.path, self.command)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    def _api(self, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return _json(413, f"the body is {length} bytes; this host reads at most {MAX_BODY}")
        body = self.rfile.read(length) if length > 0 else b""
        for route in self.server.host.routes:
            params = route.match(path.rstrip("/"))
            if params is None:
                continue
            if route.methods is not None and self.command not in route.methods:
                return _json(405, f"{self.command} is not bound on /api/{route.template}")
            request = func.HttpRequest(self.command, f"{self.server.host.url}{self.path}",
                                       headers=dict(self.headers.items()),
                                       params=dict(parse_qsl(query, keep_blank_values=True)), route_params=params,
                                       body=body)
            try:
                response: func.HttpResponse = route.function(**{route.arg: request})
            except Exception as exc:  # the Functions host answers 500 for an unhandled exception too
                logger.exception("function %s failed", route.name)
                return _json(500, f"function {route.name} failed: {type(exc).__name__}")
            headers = dict(response.headers)
            payload = response.get_body() or b""
            if payload and not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = f"{response.mimetype}; charset={response.charset}"
            return response.status_code, headers, payload
        return _json(404, f"no function serves /api/{path}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    host: ApiHost


class ApiHost:
    def __init__(self, app_settings: Mapping[str, str | None], *, port: int = 0,
                 static_dir: Path | None = DIST, bind: str = "127.0.0.1",
                 playback: ContainerClient | None = None) -> None:
        self.app_settings = dict(app_settings)
        self.static_dir = static_dir
        self.playback = playback
        self._bind = bind
        self._server = _Server((bind, port), _Handler, bind_and_activate=False)
        self._thread: threading.Thread | None = None
        self.routes: list[Route] = []

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._bind}:{self.port}"

    def start(self) -> ApiHost:
        """Bind, apply the app settings (what the host does before the app is imported; ``None`` removes one,
        ``DASHBOARD_ORIGIN`` defaults to this host's own origin), index the app, serve in a daemon thread."""
        from functions_app import function_app

        self._server.server_bind()
        self._server.server_activate()
        self._server.host = self
        defaults = {"DASHBOARD_ORIGIN": self.url}
        if self.playback is not None:
            defaults["PLAYBACK_BASE_URL"] = f"{self.url}{PLAYBACK_PREFIX.rstrip('/')}"
        settings = {**defaults, **self.app_settings}
        for name, value in settings.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        function_app._api_context.cache_clear()  # settings are read afresh on the first request
        self.routes = http_routes(function_app.app)
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-host", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
            self._thread = None
        self._server.server_close()

    def play(self, name: str, method: str, authorization: str) -> tuple[int, dict[str, str], bytes]:
        """A blob of the outputs container, for the signed-in dashboard only (the token, as the API takes it)."""
        from azure.core.exceptions import ResourceNotFoundError

        token = os.environ.get("DASHBOARD_TOKEN", "")
        if not token or not hmac.compare_digest(authorization, f"Bearer {token}"):
            return _json(401, "playback needs the dashboard's token (Authorization: Bearer ...)")
        if method not in ("GET", "HEAD"):
            return _json(405, f"{method} is not supported on playback")
        assert self.playback is not None
        try:
            data = self.playback.download_blob(name).readall()
        except ResourceNotFoundError:
            return _json(404, f"no blob {name!r} in {self.playback.container_name}")
        kind = PACKAGE_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
        return 200, {"Content-Type": kind, "Cache-Control": "no-cache"}, data

    def static(self, path: str, method: str) -> tuple[int, dict[str, str], bytes]:
        """A file of the dashboard's build, ``index.html`` for any other path."""
        root = self.static_dir
        if root is None or not (root / "index.html").is_file():
            return _json(404, f"no dashboard build at {root}; the API is under {ROUTE_PREFIX}")
        if method not in ("GET", "HEAD"):
            return _json(405, f"{method} is not supported on static files")
        base = root.resolve()
        candidate = (base / unquote(path).lstrip("/")).resolve()
        if not candidate.is_relative_to(base) or not candidate.is_file():
            candidate = base / "index.html"
        kind = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        return 200, {"Content-Type": kind, "Cache-Control": "no-cache"}, candidate.read_bytes()
