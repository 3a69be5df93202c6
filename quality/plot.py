"""A PNG plot of per-frame VMAF with the pooled figures marked."""

from __future__ import annotations

from pathlib import Path

from quality.report import QualityReport

__all__ = ["plot_vmaf"]


def plot_vmaf(report: QualityReport, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = [row["frame"] for row in report.frames]
    values = [row["vmaf"] for row in report.frames]
    pooled = report.pooled["vmaf"]
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    try:
        ax.plot(frames, values, lw=1, color="tab:blue", label="VMAF per frame")
        for stat, style in (("mean", "-"), ("harmonic_mean", "--"), ("p5", ":"), ("min", "-.")):
            ax.axhline(float(pooled[stat]), ls=style, lw=1, color="tab:red" if stat == "mean" else "tab:gray",
                       label=f"{stat} {float(pooled[stat]):.2f}")
        ax.set_xlabel("reference frame")
        ax.set_ylabel("VMAF")
        ax.set_ylim(max(0.0, min(values) - 5), 100)
        ax.set_title(f"{Path(report.distorted['path']).name} vs {Path(report.reference['path']).name}"
                     f" ({report.settings['model']}, {report.alignment['status']})")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
        fig.tight_layout()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, format="png")
    finally:
        plt.close(fig)
    return target
