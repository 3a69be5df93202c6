"""``python -m loadtest.burst``: N uploads in flight at the same moment against the local stack, every one accounted.

N threads (1000 by default) each hold their own small payload and wait at one barrier; released together, each makes
one upload, so all N are in flight at once (the locust runs offer a steady rate, where only a few overlap). Then the
blob-created events go to the real Function handler, as on Azure, and the run waits until every upload has a job
record and a queue message. It prints, and writes as JSON: uploads failed, blobs, records, messages, the time the
uploads took, and the time from the release until the last job was enqueued. Exit 1 unless every upload succeeded
and there is exactly one record and one message per upload.

    .venv/bin/python -m loadtest.burst [--uploads 1000] [--size 64KB] [--out out/burst]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueClient

from localdev.functions_host import pooled_transport
from localdev.stack import LocalStack

RET_OK, RET_FAILED = 0, 1


def _payload(size: int, n: int) -> bytes:
    # an ftyp box so that the upload looks like the MP4 it claims to be; distinct bytes per upload
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + n.to_bytes(8, "big") + os.urandom(max(0, size - len(head) - 8))


def burst(stack: LocalStack, uploads: int, size: int, timeout: float) -> dict[str, Any]:
    conn, names = stack.connection_string, stack.names
    service = BlobServiceClient.from_connection_string(conn, transport=pooled_transport(uploads))
    container = service.get_container_client(names.uploads)
    run = uuid.uuid4().hex[:8]
    payloads = [_payload(size, n) for n in range(uploads)]
    barrier = threading.Barrier(uploads + 1)
    failures: list[str] = []
    finished: list[float] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        blob = container.get_blob_client(f"burst-{run}/clip-{n:05d}.mp4")
        barrier.wait()
        try:
            blob.upload_blob(payloads[n], overwrite=True, content_settings=ContentSettings(content_type="video/mp4"))
        except Exception as exc:  # counted and reported: a failed upload is a result here
            with lock:
                failures.append(f"{n}: {type(exc).__name__}: {exc}"[:300])
        with lock:
            finished.append(time.monotonic())

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in range(uploads)]
    for t in threads:
        t.start()
    barrier.wait()
    released = time.monotonic()
    for t in threads:
        t.join()
    uploaded_s = max(finished) - released
    table = TableClient.from_connection_string(conn, names.table)
    queue = QueueClient.from_connection_string(conn, names.queue)
    prefix = f"burst-{run}/"
    records = messages = 0
    enqueued_s = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = sum(1 for e in table.query_entities("PartitionKey eq 'job'", select=["source_name"])
                      if str(e.get("source_name", "")).startswith(prefix))
        messages = int(queue.get_queue_properties().approximate_message_count or 0)
        if records >= uploads - len(failures) and messages >= uploads - len(failures):
            enqueued_s = time.monotonic() - released
            break
        time.sleep(0.5)
    blobs = sum(1 for _ in container.list_blobs(name_starts_with=prefix))
    return {"uploads": uploads, "size_bytes": size, "failed": len(failures), "failures": failures[:10],
            "blobs": blobs, "records": records, "messages": messages, "uploads_s": round(uploaded_s, 2),
            "release_to_last_enqueued_s": None if enqueued_s is None else round(enqueued_s, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.burst", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--size", default="64KB", help="bytes per upload (KB and MB suffixes)")
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for the last job, seconds")
    parser.add_argument("--out", type=Path, default=Path("out/burst"))
    args = parser.parse_args(argv)
    text = args.size.upper()
    size = int(float(text[:-2]) * (1024 if text.endswith("KB") else 1024**2)) if text.endswith(("KB", "MB")) \
        else int(text)
    shutil.rmtree(args.out / "azurite", ignore_errors=True)  # counts are of this run only
    stack = LocalStack(args.out.resolve())
    try:
        stack.start_storage()
        stack.start_events(workers=16)
        result = burst(stack, args.uploads, size, args.timeout)
    finally:
        stack.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "burst.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "failures"}))
    ok = (result["failed"] == 0 and result["blobs"] == result["records"] == result["messages"] == args.uploads)
    print("burst: " + ("PASS" if ok else "FAIL") + f" ({result['failed']} failed uploads, {result['records']} "
          f"records and {result['messages']} messages for {args.uploads} uploads)", file=sys.stderr)
    return RET_OK if ok else RET_FAILED


if __name__ == "__main__":
    sys.exit(main())
