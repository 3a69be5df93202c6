"""``python -m loadtest.soak``: many small jobs through several real workers that are killed (SIGKILL) and restarted
at random, on the local stack, with every upload accounted for exactly once.

N uploads (200 by default) of a small clip under distinct names go through the real Function handler; W workers
(``python -m worker run``, 3 by default) take them while a chaos loop kills a random worker every few seconds and
starts it again. At the end, for every upload: exactly one job record, ``succeeded``; exactly one ``manifest.json``;
under the job's folder only the files of the attempt the manifest names (nothing published twice, nothing stale);
the jobs queue and the poison queue empty. Prints the figures, writes them as JSON, exits 1 on any miss.

    .venv/bin/python -m loadtest.soak [--jobs 200] [--workers 3] [--kill-every 4 10] [--out out/soak]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueClient

from functions_app.jobs import job_id_for
from localdev.stack import LocalStack
from quality.samples import make_clip

RET_OK, RET_FAILED = 0, 1

PROFILE = ("name: soak\ngop_seconds: 1\nsegment_seconds: 1\ncpu_preset: ultrafast\n"
           "rungs:\n  - {height: 72, bitrate_k: 100}\n")


def _account(stack: LocalStack, job_ids: set[str]) -> dict[str, Any]:
    conn, names = stack.connection_string, stack.names
    table = TableClient.from_connection_string(conn, names.table)
    rows: dict[str, Any] = {e["RowKey"]: dict(e) for e in table.query_entities("PartitionKey eq 'job'")}
    outputs = BlobServiceClient.from_connection_string(conn).get_container_client(names.outputs)
    by_job: dict[str, list[str]] = {}
    for blob in outputs.list_blobs():
        by_job.setdefault(blob.name.split("/", 1)[0], []).append(blob.name)
    lost = published_twice = records_wrong = 0
    for job_id in job_ids:
        row = rows.get(job_id)
        files = by_job.get(job_id, [])
        if row is None or f"{job_id}/manifest.json" not in files:
            lost += 1
            continue
        if row.get("state") != "succeeded":
            records_wrong += 1
        manifest = json.loads(outputs.download_blob(f"{job_id}/manifest.json").readall())
        base = f"{job_id}/{manifest['attempt']}/"
        strays = [f for f in files if f != f"{job_id}/manifest.json" and not f.startswith(base)]
        if strays or manifest["job"]["files"] != len(files):
            published_twice += 1
    queue = QueueClient.from_connection_string(conn, names.queue)
    poison = QueueClient.from_connection_string(conn, names.poison)
    return {"records": sum(1 for j in job_ids if j in rows), "lost": lost, "published_twice": published_twice,
            "records_wrong": records_wrong,
            "succeeded": sum(1 for j in job_ids if (rows.get(j) or {}).get("state") == "succeeded"),
            "jobs_taken_over": sum(1 for j in job_ids if int((rows.get(j) or {}).get("attempts") or 0) > 1),
            "queue_left": int(queue.get_queue_properties().approximate_message_count or 0),
            "poisoned": int(poison.get_queue_properties().approximate_message_count or 0),
            "extra_job_folders": sorted(set(by_job) - job_ids)[:5]}


def soak(stack: LocalStack, *, jobs: int, workers: int, kill_every: tuple[float, float], timeout: float,
         seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    folder = stack.root / "clips"
    folder.mkdir(parents=True, exist_ok=True)
    profile = stack.root / "soak.yaml"
    profile.write_text(PROFILE)
    env = {"WORKER_ENCODER": "cpu", "WORKER_QUALITY_POLICY": "off", "WORKER_PROFILE": str(profile),
           "WORKER_VISIBILITY_TIMEOUT_S": "6", "WORKER_RENEW_INTERVAL_S": "1", "WORKER_BACKOFF_BASE_S": "0",
           "WORKER_POLL_INTERVAL_S": "0.1", "WORKER_POLL_MAX_INTERVAL_S": "0.5", "WORKER_MIN_FREE_BYTES": "0",
           "WORKER_MAX_DEQUEUE": "20"}
    procs = [stack.start_worker(None, **env) for _ in range(workers)]
    uploads = BlobServiceClient.from_connection_string(stack.connection_string).get_container_client(
        stack.names.uploads)
    job_ids: set[str] = set()
    clip = make_clip(folder / "clip.mp4", size="128x72", duration=1).read_bytes()
    for n in range(jobs):  # one clip, N uploads under their own names: N jobs
        props = uploads.get_blob_client(f"soak/clip-{n:04d}.mp4").upload_blob(
            clip, overwrite=True, content_settings=ContentSettings(content_type="video/mp4"))
        job_ids.add(job_id_for(stack.names.uploads, f"soak/clip-{n:04d}.mp4", str(props["etag"])))
    table = TableClient.from_connection_string(stack.connection_string, stack.names.table)
    started = time.monotonic()
    kills = 0
    next_kill = started + rng.uniform(*kill_every)
    done = 0
    while time.monotonic() - started < timeout:
        done = sum(1 for e in table.query_entities("PartitionKey eq 'job' and state eq 'succeeded'",
                                                   select=["RowKey"]) if e["RowKey"] in job_ids)
        if done == len(job_ids):
            break
        if time.monotonic() >= next_kill:
            i = rng.randrange(len(procs))
            procs[i].send_signal(signal.SIGKILL)
            procs[i].wait()
            kills += 1
            time.sleep(rng.uniform(0, 2))
            procs[i] = stack.start_worker(None, **env)
            next_kill = time.monotonic() + rng.uniform(*kill_every)
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    # Every message must end too: one whose worker was killed between the record and the delete comes back when
    # its lease runs out (WORKER_VISIBILITY_TIMEOUT_S, 6 s here) and a worker must then drop it without publishing
    # again. Wait for that, up to three leases, before counting.
    jobs_queue = QueueClient.from_connection_string(stack.connection_string, stack.names.queue)
    drain_until = time.monotonic() + 3 * float(env["WORKER_VISIBILITY_TIMEOUT_S"]) + 2
    time.sleep(2)  # the last deletions
    while time.monotonic() < drain_until and (jobs_queue.get_queue_properties().approximate_message_count or 0):
        time.sleep(0.5)
    stack.stop_workers(timeout=60)
    return {"jobs": jobs, "workers": workers, "kills": kills, "seconds": round(elapsed, 1),
            **_account(stack, job_ids)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.soak", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kill-every", type=float, nargs=2, default=(4.0, 10.0), metavar=("MIN", "MAX"),
                        help="seconds between two kills (uniform)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out/soak"))
    args = parser.parse_args(argv)
    shutil.rmtree(args.out / "azurite", ignore_errors=True)  # counts are of this run only
    stack = LocalStack(args.out.resolve())
    try:
        stack.start_storage()
        stack.start_events()
        result = soak(stack, jobs=args.jobs, workers=args.workers, kill_every=tuple(args.kill_every),
                      timeout=args.timeout, seed=args.seed)
    finally:
        stack.stop()
    (args.out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    ok = (result["succeeded"] == result["records"] == args.jobs and result["lost"] == result["published_twice"]
          == result["records_wrong"] == result["queue_left"] == result["poisoned"] == 0)
    print(f"soak: {'PASS' if ok else 'FAIL'} ({args.jobs} uploads, {result['kills']} kills, {result['lost']} lost, "
          f"{result['published_twice']} published twice, {result['records_wrong']} records wrong)", file=sys.stderr)
    return RET_OK if ok else RET_FAILED


if __name__ == "__main__":
    sys.exit(main())
