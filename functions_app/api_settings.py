"""The dashboard API's settings: the ingest settings (containers, queue, table, upload rules, storage connection) plus
what only the HTTP functions read. One frozen object, read once on the first API request.

| app setting | default | meaning |
|---|---|---|
| ``POISON_QUEUE`` | ``<JOBS_QUEUE>-poison`` | the worker's poison queue (peeked by ``GET /api/poison``) |
| ``DASHBOARD_TOKEN`` | none | a bearer token that acts as an admin (local use); at least 16 characters |
| ``DASHBOARD_TRUST_EASY_AUTH`` | ``false`` | ``true``: trust App Service Authentication's ``X-MS-CLIENT-PRINCIPAL`` |
| ``DASHBOARD_ORIGIN`` | none | the one browser origin allowed by CORS (``https://host[:port]``) |
| ``PLAYBACK_BASE_URL`` | none | links become plain URLs under it instead of SAS URLs (a CDN in front of outputs) |
| ``PROMETHEUS_URL`` | none | the Prometheus query endpoint for ``GET /api/fleet`` |
| ``PROMETHEUS_AUTH`` | ``none`` | ``azure``: a managed-identity token for Azure Monitor managed Prometheus |
| ``PROMETHEUS_SELECTOR`` | ``service=~"transcoder-.*"`` | label matchers selecting the workers' series |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from .settings import _CONTAINER, CONNECTION, IngestSettings, SettingsError, _get, _name

__all__ = ["ApiSettings", "PrometheusAuth"]

PrometheusAuth = Literal["none", "azure"]
"""``none``: no ``Authorization`` header (a Prometheus on a private network, or local). ``azure``: a bearer token
for ``https://prometheus.monitor.azure.com`` from the app's managed identity (Azure Monitor workspace)."""

_MIN_TOKEN = 16
_SELECTOR = re.compile(r'^\s*[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"[^"\\{}]*"'
                       r'(\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"[^"\\{}]*")*\s*$')


def _url(environ: Mapping[str, str], var: str, *, origin_only: bool = False) -> str | None:
    raw = environ.get(var, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(f"{var}={raw!r} is not an http(s) URL without query or fragment")
    if origin_only:
        if parts.path not in ("", "/"):
            raise SettingsError(f"{var}={raw!r} must be an origin only (scheme://host[:port]), without a path")
        return f"{parts.scheme}://{parts.netloc}".lower()
    return raw.rstrip("/")


def _bool(environ: Mapping[str, str], var: str) -> bool:
    raw = environ.get(var, "").strip().lower()
    if raw in ("", "false"):
        return False
    if raw == "true":
        return True
    raise SettingsError(f"{var}={raw!r} must be true or false")


def _token(environ: Mapping[str, str]) -> str | None:
    raw = environ.get("DASHBOARD_TOKEN", "").strip()
    if not raw:
        return None
    if len(raw) < _MIN_TOKEN or any(ch.isspace() for ch in raw):
        raise SettingsError(f"DASHBOARD_TOKEN must be at least {_MIN_TOKEN} characters without spaces "
                            "(for example `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
    return raw


def _prometheus_auth(environ: Mapping[str, str]) -> PrometheusAuth:
    raw = _get(environ, "PROMETHEUS_AUTH", "none").lower()
    if raw == "none":
        return "none"
    if raw == "azure":
        return "azure"
    raise SettingsError(f"PROMETHEUS_AUTH={raw!r} must be none or azure")


@dataclass(frozen=True)
class ApiSettings:
    ingest: IngestSettings = field(default_factory=IngestSettings)
    blob_service_uri: str | None = None
    """Identity-based connections only (``TranscodeStorage__blobServiceUri``); links are then user-delegation SAS."""
    poison_queue: str = "transcode-jobs-poison"
    dashboard_token: str | None = field(default=None, repr=False)
    trust_easy_auth: bool = False
    dashboard_origin: str | None = None
    playback_base_url: str | None = None
    prometheus_url: str | None = None
    prometheus_auth: PrometheusAuth = "none"
    prometheus_selector: str = 'service=~"transcoder-.*"'

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiSettings:
        """Read and check every setting; ``SettingsError`` names the first bad variable (never a secret's value)."""
        ingest = IngestSettings.from_env(environ)
        blob_uri = environ.get(f"{CONNECTION}__blobServiceUri", "").strip() or None
        if ingest.connection_string is None and (blob_uri is None or not blob_uri.startswith(("https://",
                                                                                               "http://"))):
            raise SettingsError(f"set {CONNECTION}__blobServiceUri to the blob endpoint (an http(s) URL): the "
                                "dashboard API reads manifests and signs links with it")
        selector = _get(environ, "PROMETHEUS_SELECTOR", cls.prometheus_selector)
        if not _SELECTOR.match(selector):
            raise SettingsError(f"PROMETHEUS_SELECTOR={selector!r} is not a list of label matchers such as "
                                'service=~"transcoder-.*",namespace="media"')
        return cls(
            ingest=ingest,
            blob_service_uri=None if ingest.connection_string else blob_uri,
            poison_queue=_name(environ, "POISON_QUEUE", f"{ingest.jobs_queue}-poison", _CONTAINER, "queue"),
            dashboard_token=_token(environ),
            trust_easy_auth=_bool(environ, "DASHBOARD_TRUST_EASY_AUTH"),
            dashboard_origin=_url(environ, "DASHBOARD_ORIGIN", origin_only=True),
            playback_base_url=_url(environ, "PLAYBACK_BASE_URL"),
            prometheus_url=_url(environ, "PROMETHEUS_URL"),
            prometheus_auth=_prometheus_auth(environ),
            prometheus_selector=selector.strip(),
        )
