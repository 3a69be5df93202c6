"""The GPU ladder command with every CUDA step swapped for its CPU twin: the same graph, run here.

``*_cuda`` filters become their CPU filters, uploads and downloads become ``null``, the CUDA decoder options go, and
each ``*_nvenc`` output becomes the CPU encoder at the same rate control (average, peak, buffer) with scene cuts off.
What is left is the command's structure: split, rungs, rotation, keyframes, packaging. That must make a package
that plays.
"""

from __future__ import annotations

import re

_CPU_TWIN = {"h264_nvenc": "libx264", "hevc_nvenc": "libx265", "av1_nvenc": "libsvtav1"}
_NVENC_ONLY = ("-tune", "-rc", "-rc-lookahead", "-no-scenecut", "-forced-idr", "-gpu")
_HW_INPUT = ("-hwaccel", "-hwaccel_device", "-hwaccel_output_format")


def _filter(item: str) -> str:
    name, _, args = item.partition("=")
    if name in ("hwupload_cuda", "hwdownload"):
        return "null"
    if name == "scale_cuda":
        opts = dict(p.split("=", 1) for p in args.split(":"))
        return f"scale=w={opts['w']}:h={opts['h']}:flags={opts.get('interp_algo', 'bicubic')},format={opts['format']}"
    if name == "transpose_cuda":
        return "hflip,vflip" if args == "dir=reversal" else f"transpose={args}"
    if name == "bwdif_cuda":
        return f"bwdif={args}"
    assert not name.endswith("_cuda"), f"no CPU twin for {name}"
    return item


def _graph(graph: str) -> str:
    chains = []
    for chain in graph.split(";"):
        m = re.match(r"^((?:\[[^\]]*\])*)(.*?)((?:\[[^\]]*\])*)$", chain)
        assert m is not None
        body = ",".join(_filter(f) for f in re.split(r"(?<!\\),", m.group(2)))
        chains.append(m.group(1) + body + m.group(3))
    return ";".join(chains)


def emulate_on_cpu(argv: list[str]) -> list[str]:
    gop = argv[argv.index("-g") + 1]
    out: list[str] = []
    nvenc: dict[str, str] = {}  # stream index -> CPU encoder
    i = 0
    while i < len(argv):
        arg = argv[i]
        base, _, stream = arg.partition(":v:")
        if arg in _HW_INPUT:
            i += 2
            continue
        if arg == "-filter_complex":
            out += [arg, _graph(argv[i + 1])]
            i += 2
            continue
        if base == "-c" and stream and argv[i + 1] in _CPU_TWIN:
            encoder = _CPU_TWIN[argv[i + 1]]
            nvenc[stream] = encoder
            out += [arg, encoder]
            extra = {"libx264": ["-x264-params", "scenecut=0:open_gop=0"],
                     "libx265": ["-x265-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:log-level=error"],
                     "libsvtav1": ["-svtav1-params", f"keyint={gop}:scd=0"]}[encoder]
            out += [f"{extra[0]}:v:{stream}", extra[1]]
            i += 2
            continue
        if stream in nvenc:
            encoder = nvenc[stream]
            if base in _NVENC_ONLY or (encoder == "libsvtav1" and base in ("-maxrate", "-bufsize", "-profile")):
                i += 2
                continue
            if base == "-preset":
                out += [arg, "12" if encoder == "libsvtav1" else "ultrafast"]
                i += 2
                continue
        out.append(arg)
        i += 1
    return out
