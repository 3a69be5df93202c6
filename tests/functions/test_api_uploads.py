"""``POST /api/uploads`` against a real Azurite: the returned URL writes that one blob and nothing else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest

from functions_app.handlers import sanitise_filename
from functions_app.web import BadRequest

from .api_support import ApiEnv, fetch

pytestmark = pytest.mark.azurite

PUT = {"x-ms-blob-type": "BlockBlob", "Content-Type": "video/mp4"}


def other_blob(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rsplit("/", 3)[0] + "/" + name))


def test_upload_url_writes_that_blob_only(api: ApiEnv) -> None:
    data = b"\x00\x00\x00\x18ftypmp42" + uuid.uuid4().bytes * 64
    status, body, _ = api.http("POST", "/api/uploads", headers=api.auth(),
                               json_body={"filename": "C:\\Users\\me\\My clip (final).MP4",
                                          "content_type": "video/mp4", "size": len(data)})
    assert status == 201, body
    container = api.settings.ingest.uploads_container
    assert body["container"] == container
    prefix, uid, leaf = body["blob"].split("/")
    assert prefix == "dashboard" and uuid.UUID(uid) and leaf == "My_clip_final.MP4"
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    url = body["upload_url"]

    assert fetch(url, method="PUT", data=data, headers=PUT)[0] == 201
    blob = api.blobs.get_blob_client(container, body["blob"])
    assert blob.download_blob().readall() == data

    assert fetch(url)[0] == 403  # create and write only: not even its own blob can be read back
    api.upload_source("someone-elses.mp4", b"secret")
    assert fetch(other_blob(url, "someone-elses.mp4"))[0] == 403  # nor another blob
    assert fetch(other_blob(url, "dashboard/x/other.mp4"), method="PUT", data=b"x", headers=PUT)[0] == 403
    assert not api.blobs.get_blob_client(container, "dashboard/x/other.mp4").exists()


def test_each_upload_gets_its_own_blob(api: ApiEnv) -> None:
    names = set()
    for _ in range(3):
        response = api.handle("api_uploads", "POST", headers={**api.auth(), "content-type": "application/json"},
                              body=b'{"filename": "a.mkv", "size": 10}')
        assert response.status == 201
        names.add(response.body["blob"])
    assert len(names) == 3


@pytest.mark.parametrize(("given", "expected"), [
    ("clip.mp4", "clip.mp4"),
    ("folder/sub/clip.mov", "clip.mov"),
    ("..\\..\\evil.mp4", "evil.mp4"),
    ("été à la plage.webm", "été_à_la_plage.webm"),
    ("a\u0000b\nc.mp4", "a_b_c.mp4"),
    (".hidden.mp4", "hidden.mp4"),
    ("name.", "name"),
])
def test_sanitise_filename(given: str, expected: str) -> None:
    assert sanitise_filename(given) == expected


@pytest.mark.parametrize("given", ["", "   ", ".mp4", "___.mp4", "/", 7, None, "x" * 1025])
def test_sanitise_filename_refuses(given: object) -> None:
    with pytest.raises(BadRequest):
        sanitise_filename(given)
