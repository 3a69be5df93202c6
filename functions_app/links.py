"""Short-lived URLs for single blobs: read links for a job's outputs, a create-and-write link for one upload.

The signature follows the credential in use: an account key (a connection string, Azurite) signs an account-key SAS;
a token credential (the Function's managed identity) gets a user delegation key (cached, one storage call an hour)
and signs a user-delegation SAS, which needs the identity to hold Storage Blob Delegator plus a data role that covers
the permission signed. With ``PLAYBACK_BASE_URL`` (a CDN or Front Door route whose root is the outputs container)
read links are plain URLs under it instead.

A SAS signs one blob: a player that follows an HLS or DASH playlist's relative segment URLs fetches them unsigned.
In-browser playback of a package therefore needs ``PLAYBACK_BASE_URL`` (or a public-read route); the SAS links are
for downloading the manifest, the playlists, the poster and the quality series.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from azure.storage.blob import BlobSasPermissions, BlobServiceClient, UserDelegationKey, generate_blob_sas

from .web import Unavailable

__all__ = ["LINK_TTL", "LinkSigner", "manifest_links", "quality_series_path", "safe_blob_path"]

LINK_TTL = timedelta(minutes=15)
_SKEW = timedelta(minutes=5)
_KEY_TTL = timedelta(hours=1)


class LinkSigner:
    """Signs URLs for blobs of one account. Thread-safe (the delegation key is shared)."""

    def __init__(self, blobs: BlobServiceClient, *, playback_base_url: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._blobs = blobs
        self._base = playback_base_url.rstrip("/") if playback_base_url else None
        self._clock = clock
        self._lock = threading.Lock()
        self._key: UserDelegationKey | None = None
        self._key_expiry: datetime | None = None

    def read_url(self, container: str, blob: str) -> str:
        """A URL that reads ``blob`` for ``LINK_TTL`` (or for good, under ``PLAYBACK_BASE_URL``)."""
        if self._base is not None:
            return f"{self._base}/{quote(blob, safe='/~')}"
        return self._sign(container, blob, BlobSasPermissions(read=True))[0]

    def upload_url(self, container: str, blob: str) -> tuple[str, datetime]:
        """A URL that creates and writes ``blob`` only (no read, no other name), and when it expires."""
        return self._sign(container, blob, BlobSasPermissions(create=True, write=True))

    def _sign(self, container: str, blob: str, permission: BlobSasPermissions) -> tuple[str, datetime]:
        now = self._clock()
        expiry = (now + LINK_TTL).replace(microsecond=0)
        start = now - _SKEW
        credential = self._blobs.credential
        common: dict[str, Any] = {"account_name": self._blobs.account_name, "container_name": container,
                                  "blob_name": blob, "permission": permission, "expiry": expiry, "start": start}
        account_key = getattr(credential, "account_key", None)
        if isinstance(account_key, str) and account_key:
            sas = generate_blob_sas(account_key=account_key, **common)
        elif callable(getattr(credential, "get_token", None)):
            sas = generate_blob_sas(user_delegation_key=self._delegation_key(now, expiry), **common)
        else:
            raise Unavailable("the storage connection can sign no links: use a connection string with an account "
                              "key or an identity-based connection (TranscodeStorage__blobServiceUri)")
        return f"{self._blobs.get_blob_client(container, blob).url}?{sas}", expiry

    def _delegation_key(self, now: datetime, until: datetime) -> UserDelegationKey:
        with self._lock:
            if self._key is None or self._key_expiry is None or self._key_expiry < until:
                expiry = now + _KEY_TTL
                self._key = self._blobs.get_user_delegation_key(now - _SKEW, expiry)
                self._key_expiry = expiry
            return self._key


def safe_blob_path(path: Any) -> str | None:
    """A relative path from a manifest, or ``None`` when it is not a plain relative blob path."""
    if not isinstance(path, str) or not path or path.startswith("/") or any(c in path for c in "\\?#"):
        return None
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        return None
    return path


def quality_series_path(rendition: Mapping[str, Any], attempt: str | None) -> str | None:
    """The per-frame VMAF series a rendition entry names, relative to the job's prefix. The worker writes it as
    ``vmaf.series`` (``quality/<rendition>.json``, relative to the attempt's folder, like ``path`` before
    publishing); ``quality.series`` is read too. A path not already under the attempt's folder is put there."""
    series = None
    for key in ("vmaf", "quality"):
        holder = rendition.get(key)
        if isinstance(holder, Mapping) and holder.get("series") is not None:
            series = safe_blob_path(holder.get("series"))
            break
    if series is None:
        return None
    if attempt and not series.startswith(f"{attempt}/"):
        return f"{attempt}/{series}"
    return series


def manifest_links(signer: LinkSigner, container: str, prefix: str,
                   manifest: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``links`` object of a job: all ``None`` (and no quality links) until its manifest exists."""
    links: dict[str, Any] = {"manifest": None, "hls": None, "dash": None, "poster": None, "quality": {}}
    if manifest is None:
        return links
    links["manifest"] = signer.read_url(container, f"{prefix}manifest.json")
    for key in ("hls", "dash", "poster"):
        path = safe_blob_path(manifest.get(key))
        links[key] = signer.read_url(container, prefix + path) if path else None
    attempt = safe_blob_path(manifest.get("attempt"))
    renditions = manifest.get("renditions")
    for rendition in renditions if isinstance(renditions, list) else []:
        name = rendition.get("name") if isinstance(rendition, Mapping) else None
        series = quality_series_path(rendition, attempt) if isinstance(name, str) and name else None
        if series is not None:
            links["quality"][name] = signer.read_url(container, prefix + series)
    return links
