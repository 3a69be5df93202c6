"""Pure parts of the load test: signing, targets, sizes, payload padding, listings, gates, accounting, argv."""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import pytest

from functions_app.jobs import job_id_for
from loadtest.accounting import QueueJobs, account, latency_stats, percentile, submitted_epoch
from loadtest.config import RunConfig
from loadtest.gates import Gates, run_breaches, upload_breaches
from loadtest.payload import pad_mp4, parse_size
from loadtest.runner import LocustRun, locust_cmd
from loadtest.scenarios import parse_run_time
from loadtest.target import Target, TargetError, parse_connection_string, sign_put_blob
from localdev.events import parse_listing

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
           "BlobEndpoint=http://127.0.0.1:41000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:41001/devstoreaccount1;")


def test_shared_key_signature_is_the_sdks() -> None:
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.pipeline.transport import HttpRequest
    from azure.storage.blob._shared.authentication import SharedKeyCredentialPolicy

    target = parse_connection_string(AZURITE)
    path = target.blob_path("uploads", "folder/My clip é&.mp4")
    headers = {"x-ms-blob-type": "BlockBlob", "x-ms-date": "Sat, 21 Nov 2026 10:00:00 GMT",
               "x-ms-version": "2021-08-06", "Content-Type": "video/mp4", "Content-Length": "65536"}
    request = HttpRequest("PUT", "http://127.0.0.1:41000" + path, headers=dict(headers))
    SharedKeyCredentialPolicy("devstoreaccount1", KEY).on_request(PipelineRequest(request, PipelineContext(None)))
    assert sign_put_blob(target, path, headers) == request.headers["Authorization"]
    assert path == "/devstoreaccount1/uploads/folder/My%20clip%20%C3%A9%26.mp4"


def test_connection_strings() -> None:
    azurite = parse_connection_string(AZURITE)
    assert (azurite.blob_endpoint, azurite.account_name, azurite.auth) == (
        "http://127.0.0.1:41000/devstoreaccount1", "devstoreaccount1", "key")
    dev = parse_connection_string("UseDevelopmentStorage=true")
    assert dev.blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1" and dev.account_key == KEY
    azure = parse_connection_string("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
                                    "EndpointSuffix=core.windows.net")
    assert azure.blob_endpoint == "https://acct.blob.core.windows.net" and azure.auth == "key"
    sas = parse_connection_string("BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=1&sig=x")
    assert (sas.account_name, sas.auth, sas.sas) == ("acct", "sas", "sv=1&sig=x")
    assert sas.blob_url("c", "a b.mp4") == "https://acct.blob.core.windows.net/c/a%20b.mp4?sv=1&sig=x"
    with pytest.raises(TargetError, match="neither AccountKey nor SharedAccessSignature"):
        parse_connection_string("AccountName=acct")
    with pytest.raises(TargetError, match="not KEY=VALUE"):
        parse_connection_string("nonsense")


def test_account_urls() -> None:
    token = Target.from_account_url("https://acct.blob.core.windows.net/")
    assert (token.account_name, token.auth, token.blob_endpoint) == (
        "acct", "token", "https://acct.blob.core.windows.net")
    sas = Target.from_account_url("https://acct.blob.core.windows.net", sas="?sv=1&sig=y")
    assert (sas.auth, sas.sas) == ("sas", "sv=1&sig=y")
    with pytest.raises(TargetError, match="not an account URL"):
        Target.from_account_url("acct.blob.core.windows.net")


@pytest.mark.parametrize(("text", "size"), [("65536", 65536), ("64KiB", 65536), ("64k", 64000), ("1MiB", 1048576),
                                            ("1.5 MB", 1500000)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_bad_sizes() -> None:
    for bad in ("", "12 parsecs", "0"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_padding_appends_one_free_box() -> None:
    data = struct.pack(">I4s", 16, b"ftyp") + b"isom\0\0\0\1"
    padded = pad_mp4(data, 1000)
    assert len(padded) == 1000 and padded[:16] == data
    assert struct.unpack(">I4s", padded[16:24]) == (984, b"free")
    assert pad_mp4(data, 10) == data
    assert pad_mp4(data, 20) == data + b"\0" * 4


@pytest.mark.ffmpeg
def test_padded_payload_is_still_a_playable_mp4(tmp_path: Path) -> None:
    import av

    from loadtest.payload import make_payload

    path = make_payload(tmp_path / "p.mp4", 65536)
    assert path.stat().st_size == 65536
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 90)
        assert sum(1 for _ in container.decode(stream)) == 30


def test_listing_parse_unescapes_names_and_follows_the_marker() -> None:
    xml = ('<?xml version="1.0"?><EnumerationResults><Blobs>'
           '<Blob><Name>a &amp;b &lt;c&gt;.mp4</Name><Properties><Etag>0x1</Etag></Properties></Blob>'
           '<Blob><Name Encoded="true">bad%01name.mp4</Name><Properties><Etag>"0x2"</Etag></Properties></Blob>'
           '</Blobs><NextMarker>m&amp;1</NextMarker></EnumerationResults>')
    assert parse_listing(xml) == ([("a &b <c>.mp4", "0x1"), ("bad\x01name.mp4", '"0x2"')], "m&1")
    assert parse_listing("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>") == ([], None)


def test_run_times() -> None:
    assert [parse_run_time(t) for t in ("90", "60s", "2m", "1h30m", "1m30s")] == [90, 60, 120, 5400, 90]
    with pytest.raises(ValueError):
        parse_run_time("soon")


def test_percentiles() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([5.0], 0.99) == 5.0
    stats = latency_stats([10.0, 1.0, 5.0, 3.0])
    assert stats == {"count": 4, "p50": 4.0, "p95": pytest.approx(9.25), "p99": pytest.approx(9.85), "max": 10.0}
    assert latency_stats([]) == {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    assert submitted_epoch("1970-01-01T00:00:01.500000Z") == 1.5


def _records(container: str, blobs: dict[str, str]) -> dict[str, list[dict[str, object]]]:
    return {"job": [{"RowKey": job_id_for(container, n, e), "source_name": n} for n, e in blobs.items()],
            "rejected": []}


def test_accounting_finds_lost_duplicate_and_unexpected_jobs() -> None:
    blobs = {f"run/b{i}.mp4": f"0x{i}" for i in range(5)}
    uploads = [{"name": n, "etag": f'"{e}"'} for n, e in blobs.items()]
    ids = [job_id_for("up", n, e) for n, e in blobs.items()]
    clean = account("up", blobs, uploads, _records("up", blobs), QueueJobs(Counter(ids), 3, 0))
    assert (clean.blobs, clean.records, clean.messages, clean.lost, clean.duplicates, clean.unexpected) == (
        5, 5, 5, 0, 0, 0)
    assert clean.other_messages == 3 and clean.missing_blobs == 0
    records = _records("up", dict(list(blobs.items())[1:]))  # b0 has no record
    messages = Counter(ids[:4] + [ids[2], "f" * 32])  # b4 has no message, b2 two, one for a blob never uploaded
    acc = account("up", blobs, uploads, records, QueueJobs(messages, 0, 1))
    assert (acc.missing_records, acc.missing_messages, acc.lost) == (1, 1, 2)
    assert (acc.duplicate_messages, acc.duplicates, acc.unexpected, acc.undecodable_messages) == (1, 1, 1, 1)
    assert acc.lost_examples == ["run/b0.mp4", "run/b4.mp4"]
    unchecked = account("up", blobs, uploads[:4], records, None)
    assert (unchecked.lost, unchecked.messages, unchecked.unlogged_blobs) == (1, 0, 1)


def _summary(**ingest: object) -> dict[str, object]:
    sc = {"uploads": {"breaches": []}, "accounting": {"lost": 0, "duplicates": 0, "unexpected": 0,
                                                      "missing_records": 0, "missing_messages": 0,
                                                      "duplicate_records": 0, "duplicate_messages": 0},
          "enqueue_latency_ms": {"p95": 900.0}, "drain_s": 2.0, "pending_at_end": 0}
    sc.update(ingest)
    return {"scenarios": {"raw": {"uploads": {"breaches": []}}, "ingest": sc}, "throughput_ratio": 0.95}


def test_gates_name_each_crossed_threshold() -> None:
    gates = Gates()
    assert run_breaches(_summary(), gates) == []
    bad = _summary(drain_s=12.5, enqueue_latency_ms={"p95": 20000.0}, pending_at_end=3)
    bad["throughput_ratio"] = 0.5
    assert run_breaches(bad, gates) == [
        "ingest: p95 upload-to-enqueue 20000 ms > 10000 ms",
        "ingest: event backlog drained 12.5 s after the last upload > 10 s",
        "ingest: 3 job(s) still pending at the end",
        "ingest throughput 50.0% of raw < 90%",
    ]
    assert run_breaches(_summary(drain_s=None, enqueue_latency_ms={"p95": None}), gates) == [
        "ingest: no upload-to-enqueue latency measured", "ingest: the event backlog did not drain"]
    stats = {"requests": 100, "failures": 1, "fail_ratio": 0.01, "p95_ms": 12000}
    assert upload_breaches(stats, gates) == ["fail ratio 0.0100 > 0 (1 of 100 uploads failed)",
                                             "p95 upload latency 12000 ms > 2000 ms"]
    assert upload_breaches({**stats, "requests": 0, "failures": 0, "fail_ratio": 0.0, "p95_ms": 0}, gates) == [
        "no upload was made"]


def test_locust_command_and_config_round_trip(tmp_path: Path) -> None:
    target = parse_connection_string(AZURITE)
    config = RunConfig(scenario="ingest", target=target, container="uploads", prefix="loadtest/r/ingest/",
                       payload="p.mp4", uploads_log="u", summary_path="s.json", wait=(1.0, 2.0))
    assert RunConfig.from_json(config.to_json()) == config
    assert json.loads(config.to_json())["target"]["account_key"] == KEY  # passed in the environment, not argv
    run = LocustRun(1000, 200, "60s", tmp_path / "ingest", tmp_path / "ingest.html")
    cmd = locust_cmd(config, run, python="python")
    assert cmd[:4] == ["python", "-m", "locust", "-f"] and cmd[4].endswith("loadtest/locustfile.py")
    assert cmd[5:] == ["--headless", "--users", "1000", "--spawn-rate", "200", "--run-time", "60s",
                       "--stop-timeout", "30", "--csv", str(tmp_path / "ingest"), "--csv-full-history", "--html",
                       str(tmp_path / "ingest.html"), "--only-summary", "--loglevel", "WARNING", "IngestUploadUser"]
    assert KEY not in " ".join(cmd)
