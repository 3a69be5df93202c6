"""Where the uploads go: a Storage account's blob endpoint and how to sign for it. Pure; no network, no locust.

Three ways in, as the Azure tools take them:

* a connection string (``AccountName``/``AccountKey``/``BlobEndpoint`` or ``EndpointSuffix``, or
  ``SharedAccessSignature``; ``UseDevelopmentStorage=true`` is Azurite on its default ports);
* an account URL plus a SAS token (``--sas``);
* an account URL alone: a bearer token from ``DefaultAzureCredential`` (``--account-url``).

``sign_put_blob`` makes the SharedKey ``Authorization`` header of a Put Blob request exactly as the Azure SDK's
``SharedKeyCredentialPolicy`` does, so the load generator can send plain HTTP without the SDK's per-request cost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

__all__ = ["API_VERSION", "Auth", "Target", "TargetError", "parse_connection_string", "sign_put_blob"]

API_VERSION = "2021-08-06"
"""``x-ms-version`` sent with every upload (Azurite 3.35 and every Azure region accept it)."""

Auth = Literal["key", "sas", "token"]
"""``key``: SharedKey signing; ``sas``: a SAS query string on every URL; ``token``: a Microsoft Entra bearer token."""

_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_SIGNED_HEADERS = ("content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
                   "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range")


class TargetError(ValueError):
    """A connection string or URL that names no usable blob endpoint; the message says what is missing."""


@dataclass(frozen=True)
class Target:
    """A blob endpoint (``https://acct.blob.core.windows.net`` or Azurite's ``http://127.0.0.1:port/acct``)."""

    blob_endpoint: str
    account_name: str
    auth: Auth
    account_key: str | None = None
    sas: str | None = None
    connection_string: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "blob_endpoint", self.blob_endpoint.rstrip("/"))
        if self.sas is not None:
            object.__setattr__(self, "sas", self.sas.lstrip("?"))
        if self.auth == "key" and not self.account_key:
            raise TargetError("SharedKey authentication needs an account key")
        if self.auth == "sas" and not self.sas:
            raise TargetError("SAS authentication needs a SAS token (sv=...&sig=...)")

    @classmethod
    def from_account_url(cls, url: str, *, sas: str | None = None) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TargetError(f"{url!r} is not an account URL such as https://ACCOUNT.blob.core.windows.net")
        account = parts.netloc.split(".", 1)[0] if "." in parts.netloc else parts.path.strip("/").split("/")[0]
        query = parts.query or None
        token = sas or query
        endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        return cls(endpoint, account, "sas" if token else "token", sas=token)

    def blob_path(self, container: str, name: str) -> str:
        """The URL path of a blob, percent-encoded as it goes on the wire (``/`` kept)."""
        return f"{urlsplit(self.blob_endpoint).path}/{container}/{quote(name, safe='/~')}"

    def blob_url(self, container: str, name: str) -> str:
        parts = urlsplit(self.blob_endpoint)
        url = f"{parts.scheme}://{parts.netloc}{self.blob_path(container, name)}"
        return f"{url}?{self.sas}" if self.auth == "sas" else url


def parse_connection_string(text: str) -> Target:
    """A ``Target`` from an Azure Storage connection string; ``TargetError`` names what is missing."""
    fields: dict[str, str] = {}
    for part in text.strip().split(";"):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise TargetError(f"connection string part {key!r} is not KEY=VALUE")
        fields[key.strip().lower()] = value.strip()
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        return Target(f"http://127.0.0.1:10000/{_DEV_ACCOUNT}", _DEV_ACCOUNT, "key", account_key=_DEV_KEY,
                      connection_string=text)
    account = fields.get("accountname", "")
    endpoint = fields.get("blobendpoint", "")
    if not endpoint:
        if not account:
            raise TargetError("the connection string has neither BlobEndpoint nor AccountName")
        protocol = fields.get("defaultendpointsprotocol", "https")
        suffix = fields.get("endpointsuffix", "core.windows.net")
        endpoint = f"{protocol}://{account}.blob.{suffix}"
    if not account:
        account = Target.from_account_url(endpoint, sas="x").account_name
    if fields.get("accountkey"):
        return Target(endpoint, account, "key", account_key=fields["accountkey"], connection_string=text)
    if fields.get("sharedaccesssignature"):
        return Target(endpoint, account, "sas", sas=fields["sharedaccesssignature"], connection_string=text)
    raise TargetError("the connection string has neither AccountKey nor SharedAccessSignature")


def sign_put_blob(target: Target, path: str, headers: dict[str, str]) -> str:
    """The ``Authorization`` value for ``PUT path`` with ``headers`` (all ``x-ms-*`` headers included)."""
    assert target.account_key is not None, "SharedKey signing needs an account key"
    lower = {k.lower(): v for k, v in headers.items() if v}
    if lower.get("content-length") == "0":
        del lower["content-length"]
    standard = "".join(lower.get(h, "") + "\n" for h in _SIGNED_HEADERS)
    canonical = "".join(f"{k}:{v}\n" for k, v in sorted(lower.items()) if k.startswith("x-ms-"))
    string_to_sign = f"PUT\n{standard}{canonical}/{target.account_name}{path}"
    digest = hmac.new(base64.b64decode(target.account_key), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return f"SharedKey {target.account_name}:{base64.b64encode(digest).decode()}"
