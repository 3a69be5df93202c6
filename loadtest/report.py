"""The run's JSON summary, its plot (latency and throughput over time) and the lines printed at the end."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadtest.accounting import percentile
from loadtest.scenarios import ScenarioResult

__all__ = ["format_report", "plot", "summarize", "throughput_ratio"]


def throughput_ratio(results: Mapping[str, ScenarioResult]) -> float | None:
    """Ingest uploads/s over raw uploads/s (``None`` unless both ran)."""
    if "raw" not in results or "ingest" not in results:
        return None
    raw = float(results["raw"].summary["throughput"]["per_s"])
    ingest = float(results["ingest"].summary["throughput"]["per_s"])
    return ingest / raw if raw > 0 else 0.0


def summarize(results: Mapping[str, ScenarioResult], settings: Mapping[str, Any]) -> dict[str, Any]:
    return {"settings": dict(settings), "scenarios": {name: r.summary for name, r in results.items()},
            "throughput_ratio": throughput_ratio(results)}


def _ms(value: object) -> str:
    return "-" if value is None else f"{float(value):.0f} ms"  # type: ignore[arg-type]


def format_report(summary: Mapping[str, Any]) -> str:
    lines = []
    for name, sc in summary["scenarios"].items():
        up, tp = sc["uploads"], sc["throughput"]
        lat = tp["latency_ms"]
        lines.append(f"{name:>6}: {tp['ok']} uploads ok, {up.get('failures', 0)} failed, {tp['per_s']:.1f} uploads/s; "
                     f"upload p50 {_ms(lat['p50'])} p95 {_ms(lat['p95'])} p99 {_ms(lat['p99'])}")
        acc = sc.get("accounting")
        if acc:
            lines.append(f"{'':>8}{acc['blobs']} blobs, {acc['records']} job records, "
                         f"{acc['messages'] if sc['queue_checked'] else 'unchecked'} queue messages; "
                         f"lost {acc['lost']}, duplicates {acc['duplicates']}, unexpected {acc['unexpected']}")
        enq = sc.get("enqueue_latency_ms")
        if enq:
            drain = sc.get("drain_s")
            lines.append(f"{'':>8}upload-to-enqueue p50 {_ms(enq['p50'])} p95 {_ms(enq['p95'])} p99 {_ms(enq['p99'])}"
                         f"; backlog drained {'-' if drain is None else f'{drain:.1f} s'} after the last upload, "
                         f"{sc.get('pending_at_end', 0)} pending at the end")
        if "clips" in sc:
            done = sc["upload_to_done_ms"]
            lines.append(f"{'':>8}{sc['succeeded']} of {sc['clips']} clips transcoded, {sc['manifests']} manifests; "
                         f"upload to done p50 {_ms(done['p50'])}, max {_ms(done['max'])}")
    ratio = summary.get("throughput_ratio")
    if ratio is not None:
        lines.append(f"ingest throughput: {ratio:.1%} of raw")
    breaches = summary.get("breaches", [])
    lines += [f"FAIL {b}" for b in breaches] or ["PASS: every threshold met"]
    return "\n".join(lines)


def _per_second(points: list[tuple[float, float]], t0: float) -> dict[int, list[float]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for t, value in points:
        buckets[int(t - t0)].append(value)
    return buckets


def plot(results: Mapping[str, ScenarioResult], path: Path, title: str) -> Path:
    """Three panels against seconds from each scenario's first upload: uploads/s (and jobs enqueued/s), upload
    latency p50/p95 per second, and the event backlog with the upload-to-enqueue p95."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rate, ax_lat, ax_backlog) = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
    ax_enqueue = ax_backlog.twinx()
    colours = {"raw": "tab:blue", "ingest": "tab:orange", "e2e": "tab:green"}
    for name, result in results.items():
        if not result.uploads:
            continue
        t0 = min(float(u["started"]) for u in result.uploads)
        lat = _per_second([(float(u["finished"]), (float(u["finished"]) - float(u["started"])) * 1000)
                           for u in result.uploads], t0)
        xs = sorted(lat)
        colour = colours.get(name, "tab:gray")
        ax_rate.plot(xs, [len(lat[x]) for x in xs], color=colour, label=f"{name}: uploads/s")
        ax_lat.plot(xs, [percentile(sorted(lat[x]), 0.5) for x in xs], color=colour, linestyle=":",
                    label=f"{name}: p50")
        ax_lat.plot(xs, [percentile(sorted(lat[x]), 0.95) for x in xs], color=colour, label=f"{name}: p95")
        if result.enqueued:
            enq = _per_second(result.enqueued, t0)
            ex = sorted(enq)
            ax_rate.plot(ex, [len(enq[x]) for x in ex], color="tab:red", linestyle="--",
                         label=f"{name}: jobs enqueued/s")
            ax_enqueue.plot(ex, [percentile(sorted(enq[x]), 0.95) / 1000 for x in ex], color="tab:red",
                            label=f"{name}: upload-to-enqueue p95 of the jobs enqueued that second (s, right)")
        if result.backlog:
            ax_backlog.plot([t - t0 for t, _ in result.backlog], [n for _, n in result.backlog], color=colour,
                            label=f"{name}: event backlog (left)")
        if name == "ingest":
            last = max(float(u["finished"]) for u in result.uploads) - t0
            ax_backlog.axvline(last, color="gray", linestyle=":", label="ingest: last upload")
    ax_rate.set_ylabel("per second")
    ax_lat.set_ylabel("upload latency (ms)")
    ax_lat.set_yscale("log")
    ax_backlog.set_ylabel("blobs listed, not yet delivered")
    ax_enqueue.set_ylabel("upload to enqueue (s)")
    ax_backlog.set_xlabel("seconds since the scenario's first upload")
    for ax in (ax_rate, ax_lat, ax_backlog):
        ax.grid(alpha=0.3)
    handles = {ax: ax.get_legend_handles_labels() for ax in (ax_rate, ax_lat, ax_backlog, ax_enqueue)}
    for ax in (ax_rate, ax_lat):
        if handles[ax][0]:
            ax.legend(loc="upper left", fontsize="small")
    lines = handles[ax_backlog][0] + handles[ax_enqueue][0]
    if lines:
        ax_backlog.legend(lines, handles[ax_backlog][1] + handles[ax_enqueue][1], loc="upper left", fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
