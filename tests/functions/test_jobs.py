"""Upload rules, job ids and the version-1 message (pure)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest

from functions_app.jobs import (
    MAX_MESSAGE_BYTES,
    MessageTooLarge,
    UploadRejected,
    UploadRules,
    build_job,
    encode_job,
    job_id_for,
    validate_upload,
)

GOLDEN = Path(__file__).parents[1] / "data" / "job_v1.json"
GOLDEN_NAME = "Vidéos/été 2026/クリップ.mp4"
GOLDEN_INPUTS = dict(
    container="uploads",
    name=GOLDEN_NAME,
    url="https://transcodestore.blob.core.windows.net/uploads/" + quote(GOLDEN_NAME, safe="~/"),
    etag='"0x8DC5A1B2C3D4E5F"',
    size=3 * 1024**3,
    content_type="video/mp4",
    submitted_at=datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
)


def rejected(name: str = "clip.mp4", size: int = 1000, content_type: str | None = "video/mp4",
             rules: UploadRules | None = None) -> UploadRejected:
    with pytest.raises(UploadRejected) as info:
        validate_upload(name, size, content_type, rules or UploadRules())
    return info.value


# --- names ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "clip.mp4",
    "Vidéos/été 2026/クリップ.mp4",
    "folder with spaces/my clip (final) v2.MOV",
    "a/b/c/d/e.mkv",
    "emoji 🎬/scène.webm",
    "x" * 1020 + ".mp4",  # 1024 characters
    "é" * 1020 + ".mp4",  # 1024 characters, 2044 UTF-8 bytes: the limit counts characters
    "dots.in.the.name.ts",
    "a/..b/c../d.mpg",  # dots inside a segment are not traversal
    "right\u200dto\u200fleft.mxf",  # format characters are not control characters
])
def test_names_accepted(name: str) -> None:
    validate_upload(name, 1000, "video/mp4", UploadRules())


@pytest.mark.parametrize(("name", "needle"), [
    ("../x.mp4", "'..' path segment"),
    ("a/../b.mp4", "'..' path segment"),
    ("a/./b.mp4", "'.' path segment"),
    ("/abs.mp4", "starts with '/'"),
    ("a\\b.mp4", "backslash"),
    ("a//b.mp4", "empty path segment"),
    ("a/b/", "empty path segment"),
    ("", "empty"),
    ("clip\x00.mp4", "U+0000 at position 4"),
    ("clip\n.mp4", "U+000A"),
    ("clip\r.mp4", "U+000D"),
    ("clip\t.mp4", "U+0009"),
    ("clip\x1f.mp4", "U+001F"),
    ("clip\x7f.mp4", "U+007F"),
    ("clip\x85.mp4", "U+0085"),
    ("clip\x9f.mp4", "U+009F"),
    ("clip\u2028.mp4", "U+2028"),
    ("clip\udc80.mp4", "U+DC80"),
])
def test_names_rejected(name: str, needle: str) -> None:
    exc = rejected(name)
    assert exc.code == "bad-name"
    assert needle in str(exc)


def test_name_over_1024_characters_rejected_with_length_and_limit() -> None:
    name = "x" * 1021 + ".mp4"  # 1025 characters (and bytes)
    assert len(name.encode()) == 1025
    exc = rejected(name)
    assert exc.code == "bad-name"
    assert "1025 characters" in str(exc) and "1024" in str(exc)
    assert (exc.value, exc.limit) == (1025, 1024)


def test_too_many_segments_rejected() -> None:
    exc = rejected("a/" * 254 + "b.mp4")
    assert exc.code == "bad-name" and "255 path segments" in str(exc)


def test_name_length_limit_is_configurable_but_not_above_azure() -> None:
    assert rejected("abcdef.mp4", rules=UploadRules(max_name_length=8)).code == "bad-name"
    with pytest.raises(ValueError, match="max_name_length"):
        UploadRules(max_name_length=2000)


# --- extensions -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a.mp4", "a.MP4", "a.Mov", "a.mkv", "a.webm", "a.m4v", "a.avi", "a.ts", "a.mxf",
                                  "a.mpg", "a.MPEG", "dir.exe/real.mp4"])
def test_extensions_accepted(name: str) -> None:
    validate_upload(name, 10, None, UploadRules())


@pytest.mark.parametrize(("name", "needle"), [
    ("setup.exe", "'.exe'"),
    ("movie.mp4.exe", "'.exe'"),
    ("notes.txt", "'.txt'"),
    ("noext", "no file extension"),
    ("dir.mp4/noext", "no file extension"),
    ("trailingdot.", "no file extension"),
])
def test_extensions_rejected(name: str, needle: str) -> None:
    exc = rejected(name)
    assert exc.code == "bad-extension"
    assert needle in str(exc)
    assert ".mp4" in str(exc)  # the message lists what is accepted


def test_extension_rules_are_normalized() -> None:
    rules = UploadRules(allowed_extensions=frozenset({"MP4", ".Mov "}))
    assert rules.allowed_extensions == {".mp4", ".mov"}
    validate_upload("a.MOV", 1, None, rules)
    assert rejected("a.mkv", rules=rules).code == "bad-extension"
    with pytest.raises(ValueError, match="empty"):
        UploadRules(allowed_extensions=frozenset())


# --- sizes --------------------------------------------------------------------------------------------------------

def test_size_zero_is_empty() -> None:
    exc = rejected(size=0)
    assert exc.code == "empty" and "0 bytes" in str(exc)


def test_size_over_max_names_size_and_limit() -> None:
    rules = UploadRules(max_bytes=10 * 1024**3)
    validate_upload("a.mp4", 10 * 1024**3, None, rules)  # the limit itself is accepted
    exc = rejected(size=10 * 1024**3 + 1, rules=rules)
    assert exc.code == "too-large"
    assert "10737418241 bytes" in str(exc) and "10.0 GiB (10737418240 bytes)" in str(exc)
    assert "MAX_UPLOAD_BYTES" in str(exc)
    assert rejected(size=50 * 1024**3 + 1).code == "too-large"  # the default is 50 GiB


def test_size_below_a_raised_minimum() -> None:
    exc = rejected(size=100, rules=UploadRules(min_bytes=1024))
    assert exc.code == "too-small" and "100 bytes" in str(exc) and "1.0 KiB" in str(exc)


def test_negative_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="negative") as info:
        validate_upload("a.mp4", -1, None)
    assert not isinstance(info.value, UploadRejected)


# --- content types ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", [None, "", "  ", "video/mp4", "VIDEO/QuickTime", "video/x-matroska",
                                          "video/mp2t", "video/mp4; codecs=\"avc1.640028\"",
                                          "application/octet-stream", "binary/octet-stream", "application/mxf",
                                          "application/mp4"])
def test_content_types_accepted(content_type: str | None) -> None:
    validate_upload("a.mp4", 10, content_type)


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "text/plain", "text/html", "audio/mp4",
                                          "audio/mpeg", "application/json", "application/pdf", "application/zip",
                                          "video", "video/", "/mp4", "video/mp4/x", "not a type"])
def test_content_types_rejected(content_type: str) -> None:
    exc = rejected(content_type=content_type)
    assert exc.code == "bad-content-type"
    assert repr(content_type) in str(exc) and "video/*" in str(exc)


def test_rules_are_checked_in_order_name_extension_size_type() -> None:
    assert rejected("../x.exe", size=0, content_type="image/png").code == "bad-name"
    assert rejected("x.exe", size=0, content_type="image/png").code == "bad-extension"
    assert rejected("x.mp4", size=0, content_type="image/png").code == "empty"


# --- job ids ------------------------------------------------------------------------------------------------------

def test_job_id_is_32_hex_from_container_name_and_unquoted_etag() -> None:
    job_id = job_id_for("uploads", "a/b.mp4", '"0x8DC1"')
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    assert job_id == hashlib.sha256(b"uploads/a/b.mp4\n0x8DC1").hexdigest()[:32]


def test_job_id_stable_for_a_repeated_event_and_new_for_a_reupload() -> None:
    first = job_id_for("uploads", "a/b.mp4", '"0x8DC1"')
    assert job_id_for("uploads", "a/b.mp4", '"0x8DC1"') == first
    assert job_id_for("uploads", "a/b.mp4", "0x8DC1") == first  # Event Grid's eTag has no quotes
    assert job_id_for("uploads", "a/b.mp4", '"0x8DC2"') != first
    assert job_id_for("uploads", "a/c.mp4", '"0x8DC1"') != first
    assert job_id_for("other", "a/b.mp4", '"0x8DC1"') != first
    with pytest.raises(ValueError, match="ETag"):
        job_id_for("uploads", "a/b.mp4", "")


# --- the message --------------------------------------------------------------------------------------------------

def test_build_job_shape() -> None:
    job = build_job(container="uploads", name="a/b.mp4", url="https://acct.blob.core.windows.net/uploads/a/b.mp4",
                    etag='"0x8DC1"', size=123, content_type="video/mp4",
                    submitted_at=datetime(2026, 11, 21, 10, 0, 0, 42, tzinfo=UTC))
    job_id = job_id_for("uploads", "a/b.mp4", '"0x8DC1"')
    assert job == {
        "version": 1,
        "job_id": job_id,
        "source": {"container": "uploads", "name": "a/b.mp4", "url": "https://acct.blob.core.windows.net/uploads/a/b.mp4",
                   "etag": '"0x8DC1"', "size": 123, "content_type": "video/mp4"},
        "output": {"container": "outputs", "prefix": f"{job_id}/"},
        "profile": None,
        "submitted_at": "2026-11-21T10:00:00.000042Z",
    }


def test_build_job_drops_a_sas_query_and_empty_content_type_and_converts_to_utc() -> None:
    job = build_job(container="uploads", name="a.mp4", url="https://acct/uploads/a.mp4?sv=2024&sig=SECRET",
                    etag='"e"', size=1, content_type="", output_container="renditions", profile="hevc",
                    submitted_at=datetime(2026, 11, 21, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    assert job["source"]["url"] == "https://acct/uploads/a.mp4"
    assert job["source"]["content_type"] is None
    assert job["output"]["container"] == "renditions" and job["profile"] == "hevc"
    assert job["submitted_at"] == "2026-11-21T10:00:00.000000Z"
    with pytest.raises(ValueError, match="time zone"):
        build_job(container="uploads", name="a.mp4", url="u", etag='"e"', size=1, content_type=None,
                  submitted_at=datetime(2026, 11, 21, 10, 0))


def test_encode_job_is_compact_sorted_utf8() -> None:
    job = build_job(**GOLDEN_INPUTS)  # type: ignore[arg-type]
    text = encode_job(job)
    assert json.loads(text) == job
    assert ", " not in text and ": " not in text
    assert GOLDEN_NAME in text  # not \\u-escaped
    assert list(json.loads(text)) == sorted(job)


def test_encode_job_refuses_more_than_32_kib() -> None:
    job = build_job(**GOLDEN_INPUTS)  # type: ignore[arg-type]
    overhead = len(encode_job(job).encode()) - len('null')
    job["profile"] = "p" * (MAX_MESSAGE_BYTES - overhead - 2)  # exactly at the limit with the quotes
    assert len(encode_job(job).encode()) == MAX_MESSAGE_BYTES
    job["profile"] += "p"
    with pytest.raises(MessageTooLarge) as info:
        encode_job(job)
    assert info.value.code == "message-too-large" and "32769 bytes" in str(info.value)
    assert MAX_MESSAGE_BYTES * 4 // 3 < 64 * 1024  # base64 of the limit fits in a queue message


def test_longest_names_fit_in_a_message() -> None:
    name = "🎬" * 1020 + ".mp4"  # 1024 characters of 4 UTF-8 bytes, 12 bytes each in the URL
    validate_upload(name, 1, None)
    url = "https://averyveryverylongaccountname.blob.core.windows.net/uploads/" + quote(name, safe="~/")
    job = build_job(container="uploads", name=name, url=url, etag='"0x8DC1"', size=1, content_type=None,
                    submitted_at=GOLDEN_INPUTS["submitted_at"])  # type: ignore[arg-type]
    assert len(encode_job(job).encode()) < MAX_MESSAGE_BYTES


def test_golden_message_byte_for_byte() -> None:
    """``tests/data/job_v1.json`` is the contract with the worker: no trailing newline, UTF-8, exactly this."""
    expected = GOLDEN.read_bytes()
    assert encode_job(build_job(**GOLDEN_INPUTS)).encode("utf-8") == expected  # type: ignore[arg-type]
    data = json.loads(expected)
    assert data["job_id"] == hashlib.sha256(f"uploads/{GOLDEN_NAME}\n0x8DC5A1B2C3D4E5F".encode()).hexdigest()[:32]
    assert data["source"]["size"] > 2**31
