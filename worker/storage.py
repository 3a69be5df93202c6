"""Blob storage for jobs: stream a source down, upload a package up, manifest last.

Each attempt uploads its package under a folder of its own (``<prefix><attempt>/``), and ``manifest.json`` at
``<prefix>manifest.json`` is created once (never overwritten) after every other file is in place: its presence means
"done", and it names the attempt whose files are the package. Two attempts can never mix their segments under one
manifest; the one that creates the manifest first wins, and the other removes its folder.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import mimetypes
import threading
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContentSettings

from worker.errors import EncodeInterrupted, SourceMissing, StorageUnavailable

__all__ = ["CONTENT_TYPES", "BlobStore"]

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".jpg": "image/jpeg",
    ".json": "application/json",
}
# Playlists change between attempts and must not be cached long; segments are immutable once named.
_CACHE = {".m3u8": "no-cache", ".mpd": "no-cache", ".json": "no-cache"}


def _content_settings(path: Path) -> ContentSettings:
    suffix = path.suffix.lower()
    kind = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return ContentSettings(content_type=kind, cache_control=_CACHE.get(suffix, "public, max-age=31536000"))


class _Stoppable:
    """A file for ``readinto`` that refuses the next chunk once ``stop`` is set (the SDK's parallel download writes
    every chunk through it, so the download ends within one chunk)."""

    def __init__(self, fh: BinaryIO, stop: threading.Event | None) -> None:
        self._fh, self._stop = fh, stop

    def write(self, data: bytes) -> int:
        if self._stop is not None and self._stop.is_set():
            raise EncodeInterrupted("download stopped by shutdown")
        return self._fh.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def seekable(self) -> bool:
        return self._fh.seekable()

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._fh.flush()


class BlobStore:
    def __init__(self, service: BlobServiceClient, *, upload_concurrency: int = 8, download_concurrency: int = 4):
        self._service = service
        self._upload_concurrency = upload_concurrency
        self._download_concurrency = download_concurrency

    def ensure_container(self, name: str) -> None:
        try:
            self._service.create_container(name)
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise StorageUnavailable(f"cannot create container {name}: {exc}") from exc

    def url(self, container: str, name: str) -> str:
        return str(self._service.get_blob_client(container, name).url)

    def download(self, container: str, name: str, dest: Path, *, etag: str | None = None,
                 stop: threading.Event | None = None) -> int:
        """Stream a blob to ``dest`` (never whole in memory). With ``etag``, a blob replaced since is refused.
        Setting ``stop`` ends the download at its next chunk (``EncodeInterrupted``)."""
        blob = self._service.get_blob_client(container, name)
        conditions: dict[str, Any] = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        part = dest.with_name(dest.name + ".part")
        try:
            stream = blob.download_blob(max_concurrency=self._download_concurrency, **conditions)
            with part.open("wb") as fh:
                size = stream.readinto(cast(IO[bytes], _Stoppable(fh, stop)))
            part.replace(dest)
            return int(size)
        except ResourceNotFoundError as exc:
            raise SourceMissing(f"source blob {container}/{name} does not exist (deleted after upload?)") from exc
        except ResourceModifiedError as exc:
            raise SourceMissing(f"source blob {container}/{name} was replaced after this job was made "
                                f"(ETag is no longer {etag}); the new upload has a job of its own") from exc
        except AzureError as exc:
            raise StorageUnavailable(f"cannot download {container}/{name}: {exc}") from exc
        finally:
            part.unlink(missing_ok=True)

    def exists(self, container: str, name: str) -> bool:
        try:
            return bool(self._service.get_blob_client(container, name).exists())
        except AzureError as exc:
            raise StorageUnavailable(f"cannot check {container}/{name}: {exc}") from exc

    def upload_package(self, folder: Path, container: str, prefix: str, *, skip: tuple[str, ...] = (),
                       stop: threading.Event | None = None) -> list[str]:
        """Upload every file under ``folder`` (but ``skip``) to ``prefix`` in parallel; the names written.

        ``prefix`` is an attempt's own folder: nothing else is there, so nothing is swept here (the service removes
        earlier attempts' folders with ``delete_under`` once its manifest stands)."""
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() not in skip)
        client = self._service.get_container_client(container)

        def put(path: Path) -> str:
            if stop is not None and stop.is_set():
                raise EncodeInterrupted("upload stopped by shutdown")
            name = prefix + path.relative_to(folder).as_posix()
            with path.open("rb") as fh:
                client.upload_blob(name, fh, overwrite=True, content_settings=_content_settings(path),
                                   max_concurrency=2)
            return name

        try:
            with concurrent.futures.ThreadPoolExecutor(self._upload_concurrency, "upload") as pool:
                return list(pool.map(put, files))
        except AzureError as exc:
            raise StorageUnavailable(f"cannot upload the package to {container}/{prefix}: {exc}") from exc

    def create_json(self, container: str, name: str, data: dict[str, Any]) -> str | None:
        """Write ``data`` as a new blob; ``None`` when the blob already exists (nothing is overwritten)."""
        body = (json.dumps(data, indent=2) + "\n").encode()
        blob = self._service.get_blob_client(container, name)
        try:
            blob.upload_blob(body, overwrite=False, content_settings=_content_settings(Path(name)))
        except ResourceExistsError:
            return None
        except AzureError as exc:
            raise StorageUnavailable(f"cannot write {container}/{name}: {exc}") from exc
        return str(blob.url)

    def delete_under(self, container: str, prefix: str, *, keep: tuple[str, ...] = ()) -> int:
        """Delete every blob under ``prefix`` whose name does not start with one of ``keep``; how many."""
        client = self._service.get_container_client(container)
        try:
            doomed = [b.name for b in client.list_blobs(name_starts_with=prefix)
                      if not any(b.name.startswith(k) for k in keep)]
            for name in doomed:
                try:
                    client.delete_blob(name)
                except ResourceNotFoundError:
                    pass
        except AzureError as exc:
            raise StorageUnavailable(f"cannot clean {container}/{prefix}: {exc}") from exc
        return len(doomed)
