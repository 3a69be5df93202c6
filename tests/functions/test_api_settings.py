"""ApiSettings.from_env, the clients built from it, and the link signer's choice of signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import BlobServiceClient, UserDelegationKey

from functions_app.api_clients import make_api_clients
from functions_app.api_settings import ApiSettings
from functions_app.links import LinkSigner, manifest_links, quality_series_path, safe_blob_path
from functions_app.settings import SettingsError
from functions_app.web import Unavailable

CONN = {"TranscodeStorage": "UseDevelopmentStorage=true"}
IDENTITY = {"TranscodeStorage__tableServiceUri": "https://acct.table.core.windows.net",
            "TranscodeStorage__queueServiceUri": "https://acct.queue.core.windows.net",
            "TranscodeStorage__blobServiceUri": "https://acct.blob.core.windows.net"}


def test_defaults() -> None:
    s = ApiSettings.from_env(CONN)
    assert s.poison_queue == "transcode-jobs-poison" and s.dashboard_token is None and not s.trust_easy_auth
    assert s.dashboard_origin is None and s.playback_base_url is None and s.prometheus_url is None
    assert s.prometheus_auth == "none" and s.prometheus_selector == 'service=~"transcoder-.*"'
    assert s.ingest.connection_string == "UseDevelopmentStorage=true" and s.blob_service_uri is None


def test_every_variable_is_read() -> None:
    s = ApiSettings.from_env({**IDENTITY, "JOBS_QUEUE": "jobs-q", "DASHBOARD_TOKEN": "t" * 32,
                              "DASHBOARD_TRUST_EASY_AUTH": "TRUE", "DASHBOARD_ORIGIN": "HTTPS://Dash.Example.net/",
                              "PLAYBACK_BASE_URL": "https://cdn.example.net/outputs/",
                              "PROMETHEUS_URL": "https://ws.eastus.prometheus.monitor.azure.com/",
                              "PROMETHEUS_AUTH": "Azure", "PROMETHEUS_SELECTOR": 'service="transcoder-blue",ns!="x"'})
    assert s.poison_queue == "jobs-q-poison" and s.blob_service_uri == "https://acct.blob.core.windows.net"
    assert s.dashboard_token == "t" * 32 and "t" * 32 not in repr(s) and s.trust_easy_auth
    assert s.dashboard_origin == "https://dash.example.net"
    assert s.playback_base_url == "https://cdn.example.net/outputs"
    assert s.prometheus_url == "https://ws.eastus.prometheus.monitor.azure.com" and s.prometheus_auth == "azure"
    assert s.prometheus_selector == 'service="transcoder-blue",ns!="x"'
    assert ApiSettings.from_env({**CONN, "POISON_QUEUE": "dead-letters"}).poison_queue == "dead-letters"


@pytest.mark.parametrize(("env", "variable"), [
    ({"DASHBOARD_TOKEN": "too-short"}, "DASHBOARD_TOKEN"),
    ({"DASHBOARD_TOKEN": "has a space in it somewhere"}, "DASHBOARD_TOKEN"),
    ({"DASHBOARD_TRUST_EASY_AUTH": "yes"}, "DASHBOARD_TRUST_EASY_AUTH"),
    ({"DASHBOARD_ORIGIN": "dash.example.net"}, "DASHBOARD_ORIGIN"),
    ({"DASHBOARD_ORIGIN": "https://dash.example.net/app"}, "DASHBOARD_ORIGIN"),
    ({"PLAYBACK_BASE_URL": "ftp://cdn"}, "PLAYBACK_BASE_URL"),
    ({"PLAYBACK_BASE_URL": "https://cdn/x?sig=1"}, "PLAYBACK_BASE_URL"),
    ({"PROMETHEUS_URL": "prometheus:9090"}, "PROMETHEUS_URL"),
    ({"PROMETHEUS_AUTH": "basic"}, "PROMETHEUS_AUTH"),
    ({"PROMETHEUS_SELECTOR": "service=transcoder"}, "PROMETHEUS_SELECTOR"),
    ({"PROMETHEUS_SELECTOR": 'a="b"} or up{'}, "PROMETHEUS_SELECTOR"),
    ({"POISON_QUEUE": "Bad_Name"}, "POISON_QUEUE"),
])
def test_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable) as caught:
        ApiSettings.from_env({**CONN, **env})
    if variable == "DASHBOARD_TOKEN":
        assert env["DASHBOARD_TOKEN"] not in str(caught.value)


def test_identity_based_needs_the_blob_endpoint() -> None:
    env = {k: v for k, v in IDENTITY.items() if "blob" not in k}
    with pytest.raises(SettingsError, match="TranscodeStorage__blobServiceUri"):
        ApiSettings.from_env(env)


class FakeCredential:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.scopes.extend(scopes)
        return type("Token", (), {"token": "eyJ-token", "expires_on": 2**31})()


def test_identity_clients_use_the_credential_and_prometheus_gets_a_token() -> None:
    credential = FakeCredential()
    settings = ApiSettings.from_env({**IDENTITY, "PROMETHEUS_URL": "https://prom.example", "PROMETHEUS_AUTH": "azure"})
    clients = make_api_clients(settings, credential=credential)
    assert clients.blobs.url == "https://acct.blob.core.windows.net/" and clients.blobs.credential is credential
    assert clients.poison.queue_name == "transcode-jobs-poison" and clients.table.table_name == "jobs"
    assert clients.prometheus is not None and clients.prometheus._token is not None
    assert clients.prometheus._token() == "eyJ-token"
    assert credential.scopes == ["https://prometheus.monitor.azure.com/.default"]
    assert make_api_clients(ApiSettings.from_env(CONN)).prometheus is None


class DelegatingBlobs:
    """What the signer uses of a BlobServiceClient signed in with a token credential."""

    account_name = "acct"

    def __init__(self) -> None:
        self.credential = FakeCredential()
        self.key_requests: list[tuple[datetime, datetime]] = []
        self._real = BlobServiceClient("https://acct.blob.core.windows.net", credential=self.credential)

    def get_user_delegation_key(self, start: datetime, expiry: datetime) -> UserDelegationKey:
        self.key_requests.append((start, expiry))
        key = UserDelegationKey()  # type: ignore[no-untyped-call]
        key.signed_oid, key.signed_tid = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
        key.signed_start, key.signed_expiry = start.isoformat(), expiry.isoformat()
        key.signed_service, key.signed_version, key.value = "b", "2025-01-05", "c2VjcmV0LWtleQ=="
        return key

    def get_blob_client(self, container: str, blob: str) -> Any:
        return self._real.get_blob_client(container, blob)


def test_a_token_credential_signs_user_delegation_links_with_one_cached_key() -> None:
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    blobs = DelegatingBlobs()
    signer = LinkSigner(blobs, clock=lambda: now)  # type: ignore[arg-type]
    read = parse_qs(urlsplit(signer.read_url("outputs", "j/a1/master.m3u8")).query)
    url, expires = signer.upload_url("uploads", "dashboard/u/clip.mp4")
    write = parse_qs(urlsplit(url).query)
    assert read["skoid"] == ["11111111-1111-1111-1111-111111111111"] and read["sp"] == ["r"] and read["sr"] == ["b"]
    assert write["sp"] == ["cw"] and expires == now + timedelta(minutes=15)
    assert url.startswith("https://acct.blob.core.windows.net/uploads/dashboard/u/clip.mp4?")
    assert len(blobs.key_requests) == 1  # one key serves every link within its hour


def test_a_connection_without_a_key_or_identity_cannot_sign() -> None:
    sas_only = BlobServiceClient("https://acct.blob.core.windows.net", credential="sv=2025&sig=abc")
    with pytest.raises(Unavailable, match="sign"):
        LinkSigner(sas_only).read_url("outputs", "x.json")


@pytest.mark.parametrize(("path", "ok"), [("a/b.m3u8", True), ("/a", False), ("a/../b", False), ("a//b", False),
                                          ("a?b", False), ("", False), (None, False), (3, False), ("a\\b", False)])
def test_safe_blob_path(path: Any, ok: bool) -> None:
    assert (safe_blob_path(path) is not None) is ok


def test_quality_series_path_follows_the_worker() -> None:
    assert quality_series_path({"vmaf": {"series": "quality/240p.json"}}, "a1-x") == "a1-x/quality/240p.json"
    assert quality_series_path({"vmaf": {"series": "a1-x/quality/240p.json"}}, "a1-x") == "a1-x/quality/240p.json"
    assert quality_series_path({"quality": {"series": "quality/240p.json"}}, "a1-x") == "a1-x/quality/240p.json"
    assert quality_series_path({"vmaf": {"series": None}, "quality": "pass"}, "a1-x") is None
    assert quality_series_path({"vmaf": {"series": "../../other/x.json"}}, "a1-x") is None
    links = manifest_links(LinkSigner(BlobServiceClient.from_connection_string("UseDevelopmentStorage=true"),
                                      playback_base_url="https://cdn.example"), "outputs", "j/",
                           {"attempt": "a1-x", "hls": "a1-x/master.m3u8", "dash": "../x", "poster": None,
                            "renditions": [{"name": "240p", "vmaf": {"series": "quality/240p.json"}}, "junk"]})
    assert links == {"manifest": "https://cdn.example/j/manifest.json", "hls": "https://cdn.example/j/a1-x/master.m3u8",
                     "dash": None, "poster": None, "quality": {"240p": "https://cdn.example/j/a1-x/quality/240p.json"}}
