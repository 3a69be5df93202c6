"""Scenario ``e2e`` (local stack only): a few real clips carried through real ``python -m worker run`` processes
(CPU encoder, a two-rung ladder, VMAF off unless asked) to their manifest.

It has containers, a queue and a table of its own on the same Azurite, so the ingest scenario's thousands of padded
test files are not transcoded.
"""

from __future__ import annotations

import time
from typing import Any

from loadtest.accounting import job_records, latency_stats
from loadtest.payload import E2E_PROFILE
from loadtest.scenarios import ScenarioResult, Session, upload_stats
from loadtest.target import parse_connection_string
from localdev.stack import LocalStack, StackNames

__all__ = ["run_e2e"]


def run_e2e(session: Session) -> ScenarioResult:
    """Workers first, then one upload per user; then wait for every job to end and check its manifest."""
    if session.stack is None or session.stack.azurite is None:
        raise ValueError("the e2e scenario runs on the local stack only (it starts its own workers)")
    assert session.clip is not None
    o = session.options
    names = StackNames(uploads="e2e-uploads", outputs="e2e-outputs", queue="e2e-jobs", table="e2ejobs",
                       receipts="e2ereceipts")
    stack = LocalStack(session.out / "e2e", names=names, azurite=session.stack.azurite)
    stack.start_storage()
    profile = session.out / "e2e" / "profile.yaml"
    profile.write_text(E2E_PROFILE)
    delivery = stack.start_events(workers=2)
    try:
        for n in range(o.e2e_workers):
            stack.start_worker(session.out / "e2e" / f"worker-{n + 1}.log", WORKER_ENCODER="cpu",
                               WORKER_QUALITY_POLICY=o.e2e_quality, WORKER_PROFILE=str(profile),
                               WORKER_CONCURRENCY="1")
        target = parse_connection_string(stack.connection_string)
        _, stats, uploads = session.locust("e2e", names.uploads, payload=session.clip, users=o.e2e_clips,
                                           run_time=f"{max(5, o.e2e_clips)}s", uploads_per_user=1,
                                           wait=(0.0, 0.0), target=target)
        table = session.clients.table(names.table)
        outputs = session.clients.blobs.get_container_client(names.outputs)
        deadline = time.monotonic() + o.e2e_timeout
        finished = {str(u["name"]): float(u["finished"]) for u in uploads}
        done: dict[str, dict[str, Any]] = {}
        while len(done) < len(finished) and time.monotonic() < deadline:
            for r in job_records(table, names.uploads, session.prefix("e2e"))["job"]:
                if r["state"] in ("succeeded", "failed", "poisoned") and str(r["source_name"]) not in done:
                    done[str(r["source_name"])] = dict(r) | {"seen": time.time()}
            time.sleep(0.5)
    finally:
        stack.stop_workers(timeout=60)
        stack.delivery = None
        delivery.stop()
    manifests = sum(1 for r in done.values() if outputs.get_blob_client(f"{r['RowKey']}/manifest.json").exists())
    succeeded = [r for r in done.values() if r["state"] == "succeeded"]
    done_ms = [(float(r["seen"]) - finished[name]) * 1000 for name, r in done.items() if name in finished]
    breaches = list(stats.get("breaches", []))
    if len(succeeded) != len(finished) or manifests != len(finished):
        breaches.append(f"{len(succeeded)} of {len(finished)} clips succeeded, {manifests} manifest(s) written "
                        f"within {o.e2e_timeout:g} s")
    stats["breaches"] = breaches
    summary = {"container": names.uploads, "uploads": stats, "throughput": upload_stats(uploads),
               "clips": len(finished), "succeeded": len(succeeded), "manifests": manifests,
               "upload_to_done_ms": latency_stats(done_ms), "quality_policy": o.e2e_quality}
    return ScenarioResult(summary, uploads)
