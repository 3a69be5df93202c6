"""Per-job overhead of the service path over the one-shot engine, on the same clip, in one run.

* **engine** -- ``worker.engine.transcode`` on a local file into a local folder: the work itself.
* **service** -- the same file uploaded to Azurite is a job: a version-1 message on the queue (as the Function
  sends it), a running ``Worker`` (already polling, default poll settings) leases it, claims the job record, streams
  the source down, runs the same engine, uploads the package in parallel, writes the manifest last, marks the
  record and deletes the message. Timed from the message being sent to the record saying ``succeeded`` (the upload of
  the source is the client's, not the service's, and is left out).

Both use the CPU encoders and the default ladder with VMAF measurement (``flag``), as the service runs in CI. Runs
alternate (engine, service, engine, ...) after one uncounted warm-up round; medians are compared.
Goal: service at most 10 % slower than the engine.

    .venv/bin/python benchmarks/bench_service.py [--repeats 3] [--size 1280x720] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from functions_app.jobs import build_job, encode_job  # noqa: E402
from localdev.stack import LocalStack  # noqa: E402
from quality.samples import make_clip  # noqa: E402
from worker.app import create_worker, ensure_resources  # noqa: E402
from worker.engine import transcode  # noqa: E402
from worker.settings import EngineSettings, ServiceSettings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "service.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp_name:
        tmp = Path(tmp_name)
        source = make_clip(tmp / "source.mp4", size=args.size, duration=args.duration, audio=True,
                           video=("-c:v", "libx264", "-preset", "veryfast", "-crf", "16"))
        stack = LocalStack(tmp / "stack").start_storage()
        try:
            conn = stack.connection_string
            settings = ServiceSettings(storage_connection_string=conn, encoder="cpu", quality_policy="flag",
                                       scratch_dir=tmp / "scratch", min_free_bytes=0, http_port=0)
            engine_settings = EngineSettings(encoder="cpu", quality_policy="flag", scratch_dir=tmp / "scratch")
            worker = create_worker(settings, gpu=False)
            ensure_resources(worker)
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            blobs = BlobServiceClient.from_connection_string(conn)
            queue = QueueClient.from_connection_string(conn, settings.jobs_queue,
                                                       message_encode_policy=TextBase64EncodePolicy())
            table = TableClient.from_connection_string(conn, settings.jobs_table)

            def run_engine(n: int) -> float:
                started = time.perf_counter()
                transcode(source, tmp / f"engine-{n}", settings=engine_settings)
                return time.perf_counter() - started

            def run_service(n: int) -> float:
                name = f"bench-{n}.mp4"
                blob = blobs.get_blob_client(stack.names.uploads, name)
                with source.open("rb") as fh:
                    props = blob.upload_blob(fh, overwrite=True)
                job = build_job(container=stack.names.uploads, name=name, url=blob.url, etag=str(props["etag"]),
                                size=source.stat().st_size, content_type="video/mp4", submitted_at=datetime.now(UTC),
                                output_container=stack.names.outputs)
                time.sleep(3)  # the worker is idle and polling at its slowest, as between real jobs
                started = time.perf_counter()
                queue.send_message(encode_job(job))
                while True:
                    try:
                        if table.get_entity("job", job["job_id"]).get("state") == "succeeded":
                            return time.perf_counter() - started
                    except Exception:
                        pass
                    time.sleep(0.05)

            times: dict[str, list[float]] = {"engine": [], "service": []}
            for n in range(args.repeats + 1):
                for kind, fn in (("engine", run_engine), ("service", run_service)):
                    seconds = fn(n)
                    print(f"round {n}{' (warm-up)' if n == 0 else ''}: {kind} {seconds:.2f}s", file=sys.stderr)
                    if n:
                        times[kind].append(seconds)
            worker.drain()
            thread.join(60)
        finally:
            stack.stop()
    engine, service = statistics.median(times["engine"]), statistics.median(times["service"])
    overhead = service / engine - 1
    result = {"source": f"{args.size} {args.duration:g}s testsrc2 + sine", "repeats": args.repeats,
              "engine_s": times["engine"], "service_s": times["service"], "engine_median_s": round(engine, 3),
              "service_median_s": round(service, 3), "overhead": round(overhead, 4), "goal": 0.10,
              "met": overhead <= 0.10}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    for kind, median in (("engine", engine), ("service", service)):
        print(f"{kind:<7} median {median:.2f}s  runs: {', '.join(f'{t:.2f}' for t in times[kind])}")
    print(f"service overhead: {overhead * 100:+.1f}% (goal at most +10%): {'MET' if overhead <= 0.10 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
