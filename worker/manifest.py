"""``manifest.json``, typed: what the engine writes beside the package and the service publishes last.

Schema ``transcode-manifest/1``; ``tests/data/manifest_v1.json`` pins it. Adding a field is compatible; renaming or
removing one is a new schema version.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MANIFEST_NAME", "MANIFEST_SCHEMA", "AdjustmentEntry", "AnalysisRecord", "AudioEntry", "ChosenEntry",
           "DecodeErrors", "DroppedEntry", "Manifest", "ProbeEntry", "QualityRun", "RenditionEntry", "RenditionQuality",
           "VmafScores", "WindowEntry"]

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = "transcode-manifest/1"

RenditionQuality = Literal["unchecked", "no-threshold", "pass", "below-threshold", "not-measurable"]
"""``unchecked``: the policy is ``off``. ``not-measurable``: the source cannot be scored (see ``quality.reason``)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class VmafScores(_Model):
    mean: float
    harmonic_mean: float
    p5: float
    min: float
    count: int
    """Frames scored (after subsampling and sampling)."""
    model: str
    subsample: int
    device: Literal["cpu", "cuda"]
    alignment: Literal["aligned", "partial"]
    """``partial``: libvmaf scored fewer frames than planned (the rendition is shorter than the source)."""
    warnings: list[str] = Field(default_factory=list)
    series: str | None = None
    """The per-frame scores, published beside the package (``quality/<rendition>.json``, relative like ``path``):
    ``{"rendition", "model", "subsample", "sampling", "index": [ladder frame numbers], "frames": [VMAF]}``."""


class RenditionEntry(_Model):
    name: str
    path: str
    init: str
    segments: int
    codec: str
    encoder: str
    width: int
    height: int
    frame_rate: str
    target_bitrate: int
    max_bitrate: int
    measured_bitrate: int
    peak_bitrate: int
    size_bytes: int
    min_vmaf: float | None
    vmaf: VmafScores | None = None
    quality: RenditionQuality = "unchecked"


class AudioEntry(_Model):
    path: str
    codec: str
    bitrate: int
    measured_bitrate: int
    size_bytes: int


class WindowEntry(_Model):
    start_s: float | None
    duration_s: float | None
    start_frame: int
    frames: int


class QualityRun(_Model):
    """How the renditions were scored: one plan for all of them."""

    measured: bool
    reason: str | None = None
    """Why not, when ``measured`` is false (policy off, a source too small for libvmaf)."""
    sampling: Literal["full", "windows"] | None = None
    windows: list[WindowEntry] = Field(default_factory=list)
    frames_total: int | None = None
    """Frames on the ladder's timeline."""
    frames_compared: int | None = None
    """Frames in the scored passes, before subsampling."""
    scoring_size: list[int] | None = None
    """Both sides are scaled to this (the source's display size, shrunk to fit the model's display)."""
    model: str | None = None
    reference: str | None = None
    """What the reference went through: the encode's normalisation."""
    note: str | None = None
    """Why the scoring differs from the policy (a source that cannot be sought precisely is scored in full)."""


class DecodeErrors(_Model):
    """Packets of the source the decoder could not decode, seen while encoding."""

    count: int = 0
    near_s: list[float] = Field(default_factory=list)
    """Where (source seconds, to within a progress report: about half a second of wall time), the first 20."""


class AdjustmentEntry(_Model):
    """What the ladder rules did to one rung (``worker.ladder_caps``, and the analysis' drop rule)."""

    rung: str
    action: Literal["capped", "dropped", "interpolated"]
    from_: int | None = Field(alias="from")
    """bit/s before."""
    to: int | None
    """bit/s after; ``None`` for a dropped rung."""
    reason: str


class ProbeEntry(_Model):
    """One probe encode of the analysis, or a point of the hull."""

    width: int
    height: int
    crf: float
    bitrate: int
    """bit/s over the analysed frames."""
    vmaf: float
    """Mean VMAF over the analysed frames, at the scoring size."""


class ChosenEntry(_Model):
    """A rung the analysis chose: its target, where it sits, what it should score, then what it scored."""

    rung: str
    target_vmaf: float
    min_vmaf: float
    """The gate's threshold: the target, or for a ``limited`` rung its predicted score less 2."""
    width: int
    height: int
    bitrate: int
    crf: float
    """The CRF at the chosen point, interpolated between two probes: the rung is encoded at it under its peak
    (``rate_control: capped-crf``), or at ``bitrate`` (``vbr``)."""
    predicted_vmaf: float
    measured_vmaf: float | None = None
    """The quality gate's mean over the title (or its windows); ``None`` when not measured."""
    limited: str | None = None
    """Why the target is out of reach: ``source-bitrate`` (the source carries too few bits at this size),
    ``max-bitrate`` (the profile's bound), ``quality`` (the candidate's probes end under its cap: even its lowest
    CRF probed scored under the target)."""


class DroppedEntry(_Model):
    target_vmaf: float
    width: int
    height: int
    bitrate: int
    predicted_vmaf: float
    reason: str
    limited: str | None = None
    """As ``ChosenEntry.limited``: the target was out of reach before the rung was dropped."""


class AnalysisRecord(_Model):
    """The content-aware analysis: what was probed, the hull, and the rungs chosen on it."""

    performed: bool
    reason: str | None = None
    """Why not, when ``performed`` is false (the fixed fallback ladder was encoded)."""
    encoder: str | None = None
    sampling: Literal["full", "windows"] | None = None
    windows: list[WindowEntry] = Field(default_factory=list)
    frames: int = 0
    """Frames each probe encoded (all windows together)."""
    scoring_size: list[int] | None = None
    model: str | None = None
    targets: list[float] = Field(default_factory=list)
    candidates: list[list[int]] = Field(default_factory=list)
    """Resolutions probed, [width, height], largest first."""
    searched: dict[str, list[float]] = Field(default_factory=dict)
    """Per resolution (``WxH``), the targets its CRF search aimed at (after the first probe of every resolution)."""
    probes: list[ProbeEntry] = Field(default_factory=list)
    hull: list[ProbeEntry] = Field(default_factory=list)
    chosen: list[ChosenEntry] = Field(default_factory=list)
    dropped: list[DroppedEntry] = Field(default_factory=list)
    seconds: float = 0.0
    """Wall time of the analysis."""


class Manifest(_Model):
    schema_: str = Field(default=MANIFEST_SCHEMA, alias="schema")
    source: dict[str, Any]
    profile: str
    codec: str
    encoder: str
    encoder_kind: str
    video_path: str
    path_reason: str | None
    fallback_reason: str | None
    gpu_index: int | None
    gop_frames: int
    segment_seconds: float
    hls: str
    dash: str
    poster: str | None
    renditions: list[RenditionEntry]
    audio: AudioEntry | None
    quality_policy: Literal["fail", "flag", "off"]
    quality: QualityRun
    source_decode_errors: DecodeErrors = Field(default_factory=DecodeErrors)
    flagged: list[str]
    adjustments: list[AdjustmentEntry] = Field(default_factory=list)
    analysis: AnalysisRecord | None = None
    """Only for a profile with ``content_aware``."""
    timings: dict[str, float]
    versions: dict[str, str | None]

    def to_json_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data
