"""The load generator's Storage client: one Put Blob per call over a kept-alive HTTP connection (geventhttpclient),
signed with SharedKey, a SAS or a bearer token, and reported to locust through ``events.request``.

Plain HTTP instead of the Azure SDK keeps the generator's own cost per upload small, so on a shared machine the
measured rate is the storage endpoint's, not the client's. The request is the SDK's ``upload_blob`` for a blob
under 64 MiB (a single Put Blob), with the same headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

from geventhttpclient import HTTPClient

from loadtest.target import API_VERSION, Target, sign_put_blob

__all__ = ["BlobUploadClient", "UploadFailed", "Uploaded"]

TokenSource = Callable[[], str]
"""Returns a current bearer token for ``https://storage.azure.com/.default``."""


class UploadFailed(Exception):
    """A Put Blob that did not answer 201; carries the status and the service's error code."""

    def __init__(self, status: int, code: str, body: str = "") -> None:
        super().__init__(f"HTTP {status} {code}".strip() + (f": {body[:200]}" if body else ""))
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Uploaded:
    """One upload as the accounting needs it: the blob version, and when the upload completed."""

    container: str
    name: str
    etag: str
    size: int
    started: float  # wall clock (time.time())
    finished: float  # wall clock
    finished_mono: float  # time.monotonic(): comparable with the event delivery's clock on the same machine

    def as_dict(self) -> dict[str, Any]:
        return {"container": self.container, "name": self.name, "etag": self.etag, "size": self.size,
                "started": self.started, "finished": self.finished, "finished_mono": self.finished_mono}


class BlobUploadClient:
    """One per locust user (one connection, as one uploading client has). ``fire`` is ``events.request.fire``."""

    def __init__(self, target: Target, fire: Callable[..., None], *, token: TokenSource | None = None,
                 timeout: float = 60.0, request_name: str = "put blob") -> None:
        if target.auth == "token" and token is None:
            raise ValueError("a token source is required for bearer-token authentication")
        parts = urlsplit(target.blob_endpoint)
        self._target = target
        self._fire = fire
        self._token = token
        self._name = request_name
        self._http = HTTPClient(parts.hostname or "", port=parts.port, ssl=parts.scheme == "https",
                                connection_timeout=timeout, network_timeout=timeout, concurrency=1)

    def close(self) -> None:
        self._http.close()

    def upload(self, container: str, name: str, data: bytes, content_type: str = "video/mp4") -> Uploaded | None:
        """Put one block blob; ``None`` when it failed (the failure is reported to locust, not raised)."""
        path = self._target.blob_path(container, name)
        headers = {"x-ms-blob-type": "BlockBlob", "x-ms-date": formatdate(usegmt=True), "x-ms-version": API_VERSION,
                   "Content-Type": content_type, "Content-Length": str(len(data))}
        if self._target.auth == "key":
            headers["Authorization"] = sign_put_blob(self._target, path, headers)
        elif self._target.auth == "token":
            assert self._token is not None
            headers["Authorization"] = f"Bearer {self._token()}"
        uri = f"{path}?{self._target.sas}" if self._target.auth == "sas" else path
        started, t0 = time.time(), time.perf_counter()
        exception: Exception | None = None
        result: Uploaded | None = None
        try:
            response = self._http.request("PUT", uri, body=data, headers=headers)
            try:
                body = response.read()
                if response.status_code != 201:
                    code = str(response.get("x-ms-error-code") or "")
                    raise UploadFailed(response.status_code, code, body.decode("utf-8", "replace"))
                etag = str(response.get("etag") or "")
            finally:
                response.release()
            result = Uploaded(container, name, etag, len(data), started, time.time(), time.monotonic())
        except Exception as exc:  # every failure is a locust failure, with its reason
            exception = exc
        elapsed_ms = (time.perf_counter() - t0) * 1000
        self._fire(request_type="PUT", name=self._name, response_time=elapsed_ms,
                   response_length=len(data) if result else 0, exception=exception, context={})
        return result
