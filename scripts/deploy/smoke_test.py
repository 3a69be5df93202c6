#!/usr/bin/env python3
"""Smoke, end-to-end and load checks of a deployed environment through its front door.

    smoke_test.py --account transcodestg --count 1                      # one upload, one package
    smoke_test.py --account transcodestg --count 40 --concurrency 8 --max-p95-seconds 600
    smoke_test.py --manifest-file manifest.json --require-nvenc          # judge a recorded manifest
    smoke_test.py --account transcodeprod --playback-base https://<front door endpoint host>   # and play it

Each upload goes to the uploads container (the Function turns it into a job), and its package must appear:
``<job_id>/manifest.json`` in the outputs container, the job id derived from the name and the ETag exactly as the
Function derives it. A manifest passes with at least one rendition, none under its VMAF threshold, and (with
--require-nvenc) an NVENC encode without fallback. With --playback-base (Front Door's endpoint, whose route maps
`/` to the outputs container) the package is then played the way a player does, without credentials: the HLS
master, its first variant playlist, that playlist's init segment and first media segment, and the DASH manifest,
each answered 200 with content. Storage is reached with `az ... --auth-mode login` (the signed-in pipeline
identity; no keys). Exits 0 when every upload passes (and the p95 is within the limit), 1
otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deploylib import Runner, dry_run_env, load_json, log

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2
MANIFEST_NAME = "manifest.json"


def job_id_for(container: str, name: str, etag: str) -> str:
    """The Function's job id (functions_app.jobs.job_id_for; a test keeps the two equal)."""
    bare = etag[1:-1] if len(etag) >= 2 and etag[0] == etag[-1] == '"' else etag
    return hashlib.sha256(f"{container}/{name}\n{bare}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def check_manifest(manifest: Mapping[str, Any], *, require_nvenc: bool) -> list[str]:
    """What is wrong with a finished job's manifest (empty: nothing)."""
    problems: list[str] = []
    renditions = manifest.get("renditions") or []
    if not renditions:
        problems.append("no renditions")
    if manifest.get("flagged"):
        problems.append(f"renditions under their VMAF threshold: {manifest['flagged']}")
    unmeasured = [r.get("name") for r in renditions if r.get("min_vmaf") is not None and r.get("vmaf") is None]
    if unmeasured and manifest.get("quality_policy") != "off":
        problems.append(f"renditions with a VMAF threshold but no score: {unmeasured}")
    if require_nvenc and (manifest.get("encoder_kind") != "nvenc" or manifest.get("fallback_reason")):
        problems.append(f"encoded with {manifest.get('encoder')} ({manifest.get('encoder_kind')}), not NVENC: "
                        f"{manifest.get('fallback_reason')}")
    return problems


def _get(url: str, runner: Runner, timeout: float = 30) -> tuple[int, bytes]:
    """An anonymous GET, as a player makes it; in dry-run the request is printed and answers nothing."""
    if runner.dry_run:
        print(f"+ GET {url}", flush=True)
        return 200, b""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "smoke-test"}),
                                    timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return 0, str(exc).encode()


def _uris(playlist: str) -> list[str]:
    """The URIs a playlist names, in order: EXT-X-MAP's init first, then the media lines."""
    out = []
    for line in playlist.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:") and 'URI="' in line:
            out.append(line.split('URI="', 1)[1].split('"', 1)[0])
        elif line and not line.startswith("#"):
            out.append(line)
    return out


def play_through(base: str, job_id: str, manifest: Mapping[str, Any], runner: Runner) -> list[str]:
    """What a player could not fetch of the package through ``base`` (empty: it plays)."""
    root = f"{base.rstrip('/')}/{job_id}/{manifest.get('attempt', 1)}/"
    problems: list[str] = []

    def fetch(url: str, what: str) -> bytes | None:
        status, body = _get(url, runner)
        if status != 200 or (not body and not runner.dry_run):
            problems.append(f"{what} {url}: HTTP {status or 'unreachable'}"
                            + (f" ({body.decode(errors='replace')[:200]})" if status == 0 else ""))
            return None
        return body

    master_url = urllib.parse.urljoin(root, str(manifest.get("hls") or "master.m3u8"))
    master = fetch(master_url, "HLS master")
    if master is not None and not runner.dry_run:
        variants = _uris(master.decode(errors="replace"))
        if not variants:
            problems.append(f"HLS master {master_url} names no variant")
        else:
            variant_url = urllib.parse.urljoin(master_url, variants[0])
            variant = fetch(variant_url, "variant playlist")
            if variant is not None:
                parts = _uris(variant.decode(errors="replace"))[:2]
                if not parts:
                    problems.append(f"variant playlist {variant_url} names no segment")
                for part in parts:
                    fetch(urllib.parse.urljoin(variant_url, part), "segment")
    if manifest.get("dash"):
        fetch(urllib.parse.urljoin(root, str(manifest["dash"])), "DASH manifest")
    return problems


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Outcome:
    name: str
    job_id: str = ""
    seconds: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def make_sample(path: Path, runner: Runner) -> Path:
    """A 4-second 720p clip with sound, from ffmpeg's test sources."""
    try:
        import imageio_ffmpeg  # the project's ffmpeg, where installed

        ffmpeg = str(imageio_ffmpeg.get_ffmpeg_exe())
    except ImportError:
        ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    runner.run([ffmpeg, "-nostdin", "-v", "error", "-y",
                "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=4",
                "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-c:v", "libx264", "-preset", "veryfast",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)])
    return path


class Storage:
    """The few `az storage blob` calls the check needs, signed in as the pipeline identity."""

    def __init__(self, runner: Runner, account: str) -> None:
        self.runner = runner
        self.auth = ["--account-name", account, "--auth-mode", "login"]

    def upload(self, container: str, name: str, path: Path) -> str:
        out = self.runner.run(["az", "storage", "blob", "upload", *self.auth, "--container-name", container,
                               "--name", name, "--file", str(path), "--content-type", "video/mp4", "--overwrite",
                               "--output", "json"], capture=True)
        return str(json.loads(out)["etag"]) if out else ""

    def exists(self, container: str, name: str) -> bool:
        out = self.runner.run(["az", "storage", "blob", "exists", *self.auth, "--container-name", container,
                               "--name", name, "--query", "exists", "--output", "tsv"], capture=True)
        return out.strip().lower() == "true"

    def download_json(self, container: str, name: str, folder: Path) -> Any:
        target = folder / name.replace("/", "_")
        self.runner.run(["az", "storage", "blob", "download", *self.auth, "--container-name", container,
                         "--name", name, "--file", str(target), "--output", "none"])
        return load_json(target) if target.exists() else {}


def one(args: argparse.Namespace, store: Storage, sample: Path, index: int, folder: Path) -> Outcome:
    name = f"{args.prefix}{args.run_id}-{index:03d}.mp4"
    outcome = Outcome(name)
    started = time.monotonic()
    etag = store.upload(args.uploads_container, name, sample)
    outcome.job_id = job_id_for(args.uploads_container, name, etag) if etag else "<job_id>"
    manifest_blob = f"{outcome.job_id}/{MANIFEST_NAME}"
    deadline = started + args.timeout
    while not store.exists(args.outputs_container, manifest_blob):
        if store.runner.dry_run:
            break
        if time.monotonic() > deadline:
            outcome.problems.append(f"no {manifest_blob} after {args.timeout:.0f}s")
            return outcome
        time.sleep(args.poll)
    outcome.seconds = round(time.monotonic() - started, 1)
    manifest = store.download_json(args.outputs_container, manifest_blob, folder)
    if not store.runner.dry_run:
        outcome.problems += check_manifest(manifest, require_nvenc=args.require_nvenc)
    if args.playback_base and not outcome.problems:
        outcome.problems += play_through(args.playback_base, outcome.job_id, manifest, store.runner)
    return outcome


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--manifest-file", type=Path, help="judge this recorded manifest only")
    p.add_argument("--account", help="storage account of the environment")
    p.add_argument("--uploads-container", default="uploads")
    p.add_argument("--outputs-container", default="outputs")
    p.add_argument("--prefix", default="smoke/", help="blob name prefix of the test uploads")
    p.add_argument("--run-id", default=os.environ.get("GITHUB_RUN_ID", str(int(time.time()))))
    p.add_argument("--sample", type=Path, help="video to upload (default: a generated 4 s 720p clip)")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--timeout", type=float, default=900, help="seconds an upload may take to become a package")
    p.add_argument("--poll", type=float, default=10)
    p.add_argument("--max-p95-seconds", type=float, default=None, help="fail when the p95 upload-to-package exceeds")
    p.add_argument("--require-nvenc", action="store_true", help="packages must be NVENC encodes without fallback")
    p.add_argument("--playback-base", help="play each package through this URL (https://<Front Door endpoint>)")
    p.add_argument("--report", type=Path, help="also write the JSON summary here")
    p.add_argument("-n", "--dry-run", action="store_true", default=dry_run_env(),
                   help="print the commands instead of running them (also DRY_RUN=1)")
    args = p.parse_args(argv)
    if bool(args.manifest_file) == bool(args.account):
        p.error("give either --manifest-file or --account")
    if args.count < 1 or args.concurrency < 1:
        p.error("--count and --concurrency must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.manifest_file:
        try:
            problems = check_manifest(load_json(args.manifest_file), require_nvenc=args.require_nvenc)
        except (OSError, ValueError) as exc:
            log(f"smoke: cannot read {args.manifest_file}: {exc}")
            return EXIT_BAD_INPUT
        print(json.dumps({"decision": "fail" if problems else "pass", "problems": problems}, indent=2))
        return EXIT_FAIL if problems else EXIT_PASS
    runner = Runner(args.dry_run)
    store = Storage(runner, args.account)
    with tempfile.TemporaryDirectory(prefix="smoke-") as tmp:
        folder = Path(tmp)
        try:
            sample = args.sample or make_sample(folder / "sample.mp4", runner)
            with ThreadPoolExecutor(max_workers=1 if args.dry_run else args.concurrency) as pool:
                outcomes = list(pool.map(lambda i: one(args, store, sample, i, folder), range(args.count)))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            log(f"smoke: {exc}")
            return EXIT_FAIL
    latency = p95([o.seconds for o in outcomes if o.seconds is not None])
    failed = [o for o in outcomes if not o.ok]
    slow = args.max_p95_seconds is not None and latency is not None and latency > args.max_p95_seconds
    for o in outcomes:
        log(f"{'PASS' if o.ok else 'FAIL'} {o.name} job {o.job_id} {o.seconds}s {'; '.join(o.problems)}")
    decision = "dry-run" if args.dry_run else ("fail" if failed or slow else "pass")
    summary = {"decision": decision, "count": len(outcomes), "failed": len(failed), "p95_seconds": latency,
               "max_p95_seconds": args.max_p95_seconds, "results": [asdict(o) for o in outcomes]}
    text = json.dumps(summary, indent=2)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    return EXIT_FAIL if decision == "fail" else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
