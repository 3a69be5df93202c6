"""What each NVIDIA GPU generation can encode and decode: the table behind path planning and ``--assume-gpu``.

NVML says which GPUs exist and, through its encoder capacity, whether one has an NVENC engine; it does not say which
codecs, bit depths and chroma formats NVDEC can decode. That comes from NVIDIA's Video Encode and Decode GPU Support
Matrix, summarised here per generation:

==========  ===============================================  ======================  ==========================
generation  NVDEC decodes (4:2:0 unless noted)               NVENC encodes           models here
==========  ===============================================  ======================  ==========================
pascal      H.264 8-bit; HEVC 8-12-bit; VP9 8-12-bit         H.264, HEVC             P4, P40, GTX 10xx
volta       as pascal                                        H.264, HEVC             V100
turing      H.264 8-bit; HEVC 8-12-bit 4:2:0/4:4:4; VP9      H.264, HEVC             T4, RTX 20xx, GTX 16xx
ampere      turing + AV1 8/10-bit                            H.264, HEVC (A100/A30   A10, A10G, A2, A16, A40,
                                                             have none)              A100, A30, RTX 30xx
ada         as ampere                                        H.264, HEVC, AV1        L4, L40, L40S, RTX 40xx
hopper      as ampere                                        none                    H100, H200, H800, H20, GH200
blackwell   ada + H.264 10-bit and 4:2:2, HEVC 4:2:2         H.264, HEVC, AV1 (B200  RTX 50xx, RTX PRO 6000,
                                                             and GB200 have none)    B200, GB200
==========  ===============================================  ======================  ==========================

Every generation also decodes MPEG-1/2, MPEG-4 Part 2, VC-1 and VP8 (8-bit 4:2:0). None decodes ProRes, DNxHD or
any intra-only mezzanine codec: those always decode on the CPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["GENERATIONS", "MODELS", "DecodeSupport", "GpuModel", "find_model", "nvdec_support"]

Generation = Literal["pascal", "volta", "turing", "ampere", "ada", "hopper", "blackwell"]

# codec -> {chroma -> deepest bit depth}
_Formats = dict[str, dict[int, int]]

_LEGACY: _Formats = {c: {420: 8} for c in ("mpeg1video", "mpeg2video", "mpeg4", "vc1", "wmv3", "vp8")}
_PASCAL: _Formats = {**_LEGACY, "h264": {420: 8}, "hevc": {420: 12}, "vp9": {420: 12}}
_TURING: _Formats = {**_PASCAL, "hevc": {420: 12, 444: 12}}
_AMPERE: _Formats = {**_TURING, "av1": {420: 10}}
_BLACKWELL: _Formats = {**_AMPERE, "h264": {420: 10, 422: 10}, "hevc": {420: 12, 422: 10, 444: 12}}

GENERATIONS: dict[Generation, tuple[_Formats, frozenset[str]]] = {
    "pascal": (_PASCAL, frozenset({"h264", "hevc"})),
    "volta": (_PASCAL, frozenset({"h264", "hevc"})),
    "turing": (_TURING, frozenset({"h264", "hevc"})),
    "ampere": (_AMPERE, frozenset({"h264", "hevc"})),
    "ada": (_AMPERE, frozenset({"h264", "hevc", "av1"})),
    "hopper": (_AMPERE, frozenset()),
    "blackwell": (_BLACKWELL, frozenset({"h264", "hevc", "av1"})),
}
"""Per generation: what NVDEC decodes, and the codecs its NVENC encodes (where the model has an NVENC engine)."""

GEFORCE_SESSION_LIMIT = 8
"""Concurrent NVENC sessions a GeForce driver allows per system (8 since early 2024); data-centre cards: no cap."""


@dataclass(frozen=True)
class GpuModel:
    name: str
    generation: Generation
    nvenc_engines: int
    nvdec_engines: int
    pattern: str
    """Regular expression matched against NVML's device name."""
    geforce: bool = False

    @property
    def nvenc_codecs(self) -> frozenset[str]:
        return GENERATIONS[self.generation][1] if self.nvenc_engines else frozenset()

    @property
    def session_limit(self) -> int | None:
        return GEFORCE_SESSION_LIMIT if self.geforce else None


def _m(name: str, generation: Generation, nvenc: int, nvdec: int, pattern: str | None = None,
       geforce: bool = False) -> GpuModel:
    return GpuModel(name, generation, nvenc, nvdec, pattern or rf"\b{re.escape(name)}\b", geforce)


MODELS: tuple[GpuModel, ...] = (
    _m("P4", "pascal", 1, 1, r"\bTesla P4\b"), _m("P40", "pascal", 2, 1),
    _m("V100", "volta", 3, 1),
    _m("T4", "turing", 1, 2),
    _m("A2", "ampere", 1, 2), _m("A10", "ampere", 1, 2), _m("A10G", "ampere", 1, 2), _m("A16", "ampere", 4, 8),
    _m("A40", "ampere", 1, 2), _m("A30", "ampere", 0, 4), _m("A100", "ampere", 0, 5), _m("A800", "ampere", 0, 5),
    _m("L4", "ada", 2, 4), _m("L40", "ada", 3, 3), _m("L40S", "ada", 3, 3), _m("L20", "ada", 3, 3),
    _m("RTX 6000 Ada", "ada", 3, 3, r"\bRTX 6000 Ada\b"),
    _m("H100", "hopper", 0, 7), _m("H200", "hopper", 0, 7), _m("H800", "hopper", 0, 7), _m("H20", "hopper", 0, 7),
    _m("GH200", "hopper", 0, 7),
    _m("B200", "blackwell", 0, 7), _m("B100", "blackwell", 0, 7), _m("GB200", "blackwell", 0, 7),
    _m("RTX PRO 6000", "blackwell", 4, 4, r"\bRTX PRO 6000\b"),
    _m("GeForce GTX 10", "pascal", 1, 1, r"\bGTX 10\d0", geforce=True),
    _m("GeForce GTX 16", "turing", 1, 1, r"\bGTX 16\d0", geforce=True),
    _m("GeForce RTX 20", "turing", 1, 1, r"\bRTX 20\d0", geforce=True),
    _m("GeForce RTX 30", "ampere", 1, 1, r"\bRTX 30\d0", geforce=True),
    _m("GeForce RTX 40", "ada", 2, 1, r"\bRTX 40\d0", geforce=True),
    _m("GeForce RTX 50", "blackwell", 2, 2, r"\bRTX 50\d0", geforce=True),
)


def find_model(name: str) -> GpuModel | None:
    """The table's entry for an NVML device name (or a user's shorthand such as ``t4``), or ``None``.

    The longest matching pattern wins, so "A100" is never read as "A10" and "L40S" never as "L40".
    """
    hits = [m for m in MODELS if re.search(m.pattern, name, re.IGNORECASE)]
    return max(hits, key=lambda m: len(m.pattern)) if hits else None


@dataclass(frozen=True)
class DecodeSupport:
    ok: bool
    reason: str


def chroma_of(pix_fmt: str) -> int:
    """420, 422 or 444 from a pixel format name (4:2:0 for anything unrecognised that is planar YUV)."""
    if pix_fmt.startswith(("yuv422", "yuvj422", "nv16", "nv20", "p210", "p216", "y210")):
        return 422
    if pix_fmt.startswith(("yuv444", "yuvj444", "gbr", "rgb", "bgr", "nv24", "p410", "p416", "argb", "rgba")):
        return 444
    return 420


def nvdec_support(model: GpuModel | None, codec: str, pix_fmt: str, bit_depth: int) -> DecodeSupport:
    """Whether NVDEC on ``model`` decodes this stream; the reason names what it cannot do.

    A model missing from the table is newer than it, so it is given what every generation since Ampere decodes.
    """
    name, generation = (model.name, model.generation) if model is not None else ("an unlisted GPU", "ampere")
    formats = GENERATIONS[generation][0].get(codec)
    chroma = chroma_of(pix_fmt)
    what = f"{codec} {bit_depth}-bit 4:{str(chroma)[1]}:{str(chroma)[2]}"
    if formats is None:
        return DecodeSupport(False, f"NVDEC on {name} ({generation}) cannot decode {codec}")
    depth = formats.get(chroma)
    if depth is None or bit_depth > depth:
        return DecodeSupport(False, f"NVDEC on {name} ({generation}) cannot decode {what}")
    return DecodeSupport(True, f"NVDEC on {name} decodes {what}")
