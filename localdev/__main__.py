"""``python -m localdev``: the main job. Starts the whole system on this machine, uploads a video, follows its job
and prints what came out.

1. Azurite (blob, queue, table) on free ports, data under ``--out``;
2. the uploads and outputs containers, the jobs queue and its poison queue, the jobs table;
3. blob-created events for new uploads delivered to the Function handler, as the Functions host would;
4. worker processes (``python -m worker run``) with the CPU fallback where there is no usable NVENC;
5. one upload (a generated sample, or the file named), followed to its manifest; the summary, and the package
   downloaded next to it so that it can be played;
6. with ``--keep-running``, the dashboard and its API (the Function app's HTTP functions) on loopback, signed in
   with a random token carried in the printed URL.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient, ContentSettings

from localdev.stack import LocalStack
from quality.samples import make_clip

RET_OK, RET_FAILED, RET_TIMEOUT = 0, 1, 4
_TERMINAL = ("succeeded", "failed", "poisoned")


def _job_id(container: str, name: str, etag: str) -> str:
    from functions_app.jobs import job_id_for

    return job_id_for(container, name, etag)


def _follow(table: TableClient, job_id: str, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    last = ("", -1.0)
    record: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        try:
            record = dict(table.get_entity("job", job_id))
        except Exception:
            record = None
        if record is not None:
            state, stage, pct = record.get("state", ""), record.get("stage", ""), float(record.get("progress") or 0)
            if (stage, pct) != last:
                filled = int(pct * 30 // 100)
                sys.stderr.write(f"\r{state:<9} {stage:<12}[{'#' * filled}{'.' * (30 - filled)}] {pct:5.1f}%   ")
                sys.stderr.flush()
                last = (stage, pct)
            if state in _TERMINAL:
                sys.stderr.write("\n")
                return record
        time.sleep(0.5)
    sys.stderr.write("\n")
    return record


def _summary(manifest: dict[str, Any], record: dict[str, Any], out: Path) -> None:
    reason = manifest.get("fallback_reason")
    print(f"encoder: {manifest['encoder']} ({manifest['encoder_kind']})" + (f"; fallback: {reason}" if reason else ""))
    src = manifest["source"]
    print(f"source:  {src['width']}x{src['height']} {src['duration']:.1f}s")
    print(f"{'rendition':>10} {'size':>10} {'target':>9} {'measured':>9} {'VMAF':>6} {'p5':>6}  quality")
    for r in manifest["renditions"]:
        vmaf = r.get("vmaf") or {}
        mean = f"{vmaf['mean']:.2f}" if vmaf else "-"
        p5 = f"{vmaf['p5']:.2f}" if vmaf else "-"
        print(f"{r['name']:>10} {r['width']:>4}x{r['height']:<5} {r['target_bitrate'] / 1000:>6.0f} kb/s "
              f"{r['measured_bitrate'] / 1000:>4.0f} kb/s {mean:>6} {p5:>6}  {r['quality']}")
    if manifest.get("audio"):
        print(f"{'audio':>10} {manifest['audio']['codec']} {manifest['audio']['measured_bitrate'] / 1000:.0f} kb/s")
    timings = json.loads(record.get("timings") or "{}")
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    print(f"outputs: {out / manifest['hls']} (HLS), {out / manifest['dash']} (DASH)")


class _Stopped(Exception):
    """SIGTERM or SIGHUP (a closed terminal): stop the stack as Ctrl-C does."""


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("source", nargs="?", help="a video to upload (default: a generated sample)")
    parser.add_argument("--out", default="out/stack", help="Azurite data, logs and downloaded outputs")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--sample-size", default="1280x720")
    parser.add_argument("--sample-duration", type=float, default=8)
    parser.add_argument("--encoder", choices=("auto", "gpu", "cpu"), default="auto")
    parser.add_argument("--timeout", type=float, default=1800, help="give up following the job after this long")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the stack up until Ctrl-C, with the dashboard and its API")
    parser.add_argument("--dashboard-port", type=int, default=0,
                        help="loopback port of the dashboard and its API with --keep-running (0: a free port)")
    parser.add_argument("--prometheus-url", default=os.environ.get("PROMETHEUS_URL") or None,
                        help="Prometheus for the dashboard's fleet view (default: $PROMETHEUS_URL; none: 503)")
    parser.add_argument("--fresh", action="store_true", help="wipe the Azurite data from earlier runs first")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(args.out).resolve()
    if args.fresh and (out / "azurite").exists():
        shutil.rmtree(out / "azurite")
    stack = LocalStack(out)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)  # everything started below is stopped in the finally clause
    try:
        print(f"starting Azurite (data in {out / 'azurite'}) ...", file=sys.stderr)
        stack.start()
        azurite = stack.azurite
        assert azurite is not None
        print(f"  blob :{azurite.blob_port}  queue :{azurite.queue_port}  table :{azurite.table_port}; "
              "blob-created events -> Function enqueue_transcode", file=sys.stderr)
        dashboard = None
        if args.keep_running:
            token = secrets.token_urlsafe(24)
            api = stack.start_api(token=token, port=args.dashboard_port, prometheus_url=args.prometheus_url)
            dashboard = f"{api.url}/#token={token}"
            print(f"  dashboard: {dashboard}  (API: {api.url}/api/jobs with Authorization: Bearer {token})",
                  file=sys.stderr)
        for n in range(args.workers):
            stack.start_worker(WORKER_ENCODER=args.encoder, WORKER_CONCURRENCY="1")
            print(f"  worker {n + 1} started (log: {out / f'worker-{n + 1}.log'})", file=sys.stderr)
        if args.source:
            source = Path(args.source)
            if not source.is_file():
                print(f"error: {source} is not a file", file=sys.stderr)
                return RET_FAILED
        else:
            source = out / "sample.mp4"
            print(f"generating a {args.sample_size} {args.sample_duration:g}s sample ...", file=sys.stderr)
            make_clip(source, size=args.sample_size, duration=args.sample_duration, audio=True,
                      video=("-c:v", "libx264", "-preset", "veryfast", "-crf", "16"))
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
        name = f"{source.stem}-{digest}{source.suffix}"
        blobs = BlobServiceClient.from_connection_string(stack.connection_string)
        with source.open("rb") as fh:
            blob = blobs.get_blob_client(stack.names.uploads, name)
            props = blob.upload_blob(fh, overwrite=True, content_settings=ContentSettings(content_type="video/mp4"))
        job_id = _job_id(stack.names.uploads, name, str(props["etag"]))
        print(f"uploaded {stack.names.uploads}/{name} ({source.stat().st_size} bytes); job {job_id}", file=sys.stderr)
        table = TableClient.from_connection_string(stack.connection_string, stack.names.table)
        record = _follow(table, job_id, args.timeout)
        if record is None:
            rejected = None
            try:
                rejected = dict(table.get_entity("rejected", job_id))
            except Exception:
                pass
            if rejected:
                print(f"upload rejected: {rejected.get('error')}", file=sys.stderr)
                return RET_FAILED
            print(f"job {job_id} did not finish within {args.timeout:.0f}s", file=sys.stderr)
            return RET_TIMEOUT
        if record["state"] != "succeeded":
            print(f"job {job_id} {record['state']}: {record.get('error')}", file=sys.stderr)
            return RET_FAILED
        prefix = str(record["output_prefix"])
        local = out / "outputs" / job_id
        shutil.rmtree(local, ignore_errors=True)
        container = blobs.get_container_client(stack.names.outputs)
        for item in container.list_blobs(name_starts_with=prefix):
            dest = local / item.name[len(prefix):]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(container.download_blob(item.name).readall())
        manifest = json.loads((local / "manifest.json").read_text())
        print(f"\njob {job_id} succeeded after {record.get('attempts')} attempt(s); "
              f"manifest: {stack.names.outputs}/{prefix}manifest.json")
        _summary(manifest, record, local)
        if args.keep_running:
            print(f"\nthe stack is up: WORKER_STORAGE_CONNECTION_STRING='{stack.connection_string}'\n"
                  f"dashboard: {dashboard}\n"
                  "upload more videos to the uploads container; Ctrl-C stops", file=sys.stderr)
            while True:
                time.sleep(3600)
        return RET_OK
    except (KeyboardInterrupt, _Stopped):
        return RET_OK
    finally:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the clean-up short
        print("stopping ...", file=sys.stderr)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
