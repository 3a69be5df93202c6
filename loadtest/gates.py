"""Pass/fail: the thresholds of a load test and the sentences that say which one a run crossed. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Gates", "run_breaches", "upload_breaches"]


@dataclass(frozen=True)
class Gates:
    max_fail_ratio: float = 0.0  # failed uploads / uploads
    max_upload_p95_ms: float = 2_000.0  # p95 of one upload's latency, per scenario
    max_enqueue_p95_ms: float = 10_000.0  # p95 from an upload's completion to its job message on the queue
    max_lost: int = 0  # uploaded blobs without a job record or without a queue message
    max_duplicates: int = 0  # job records or queue messages beyond one per blob
    min_throughput_ratio: float = 0.9  # ingest uploads/s over raw uploads/s, measured in the same command
    max_drain_s: float = 10.0  # from the last upload until every blob's job is on the queue


def upload_breaches(stats: Mapping[str, Any], gates: Gates) -> list[str]:
    """The upload gates (checked inside the locust process, as its exit code): failure ratio and p95 latency."""
    out = []
    if stats["requests"] == 0:
        out.append("no upload was made")
    if stats["fail_ratio"] > gates.max_fail_ratio:
        out.append(f"fail ratio {stats['fail_ratio']:.4f} > {gates.max_fail_ratio:g} "
                   f"({stats['failures']} of {stats['requests']} uploads failed)")
    if stats["p95_ms"] > gates.max_upload_p95_ms:
        out.append(f"p95 upload latency {stats['p95_ms']:.0f} ms > {gates.max_upload_p95_ms:g} ms")
    return out


def run_breaches(summary: Mapping[str, Any], gates: Gates) -> list[str]:
    """The gates over the whole command's summary (see ``loadtest.report`` for its shape)."""
    out: list[str] = []
    scenarios: Mapping[str, Any] = summary["scenarios"]
    for name, sc in scenarios.items():
        out += [f"{name}: {b}" for b in sc["uploads"].get("breaches", [])]
        acc = sc.get("accounting")
        if acc is None:
            continue
        if acc["lost"] > gates.max_lost:
            out.append(f"{name}: {acc['lost']} lost job(s) > {gates.max_lost} "
                       f"(no record: {acc['missing_records']}, no message: {acc['missing_messages']})")
        if acc["duplicates"] > gates.max_duplicates:
            out.append(f"{name}: {acc['duplicates']} duplicate job(s) > {gates.max_duplicates} "
                       f"(records: {acc['duplicate_records']}, messages: {acc['duplicate_messages']})")
        if acc["unexpected"]:
            out.append(f"{name}: {acc['unexpected']} job(s) for blobs this run did not upload")
        enqueue = sc.get("enqueue_latency_ms") or {}
        p95 = enqueue.get("p95")
        if p95 is None:
            out.append(f"{name}: no upload-to-enqueue latency measured")
        elif p95 > gates.max_enqueue_p95_ms:
            out.append(f"{name}: p95 upload-to-enqueue {p95:.0f} ms > {gates.max_enqueue_p95_ms:g} ms")
        drain = sc.get("drain_s")
        if drain is None:
            out.append(f"{name}: the event backlog did not drain")
        elif drain > gates.max_drain_s:
            out.append(f"{name}: event backlog drained {drain:.1f} s after the last upload > {gates.max_drain_s:g} s")
        if sc.get("pending_at_end"):
            out.append(f"{name}: {sc['pending_at_end']} job(s) still pending at the end")
    ratio = summary.get("throughput_ratio")
    if ratio is not None and ratio < gates.min_throughput_ratio:
        out.append(f"ingest throughput {ratio:.1%} of raw < {gates.min_throughput_ratio:.0%}")
    return out
