"""Readers of the pinned ffmpeg's own descriptions (``-h filter=NAME``, ``-pix_fmts``) and of filter graphs, so that
tests check a command's filter options against the binary that will run them."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from quality.runner import run_ffmpeg_capture


@dataclass
class FilterOption:
    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    constants: set[str] = field(default_factory=set)


_OPTION = re.compile(r"^   (\S+)\s+<(\w+)>\s+[.A-Z]{11}\s*(.*)$")
_CONSTANT = re.compile(r"^     (\S+)\s+\S+\s+[.A-Z]{11}")
_RANGE = re.compile(r"\(from (\S+) to (\S+)\)")


def _number(text: str) -> float:
    return {"INT_MAX": 2**31 - 1, "INT_MIN": -(2**31), "FLT_MAX": 3.4e38, "-FLT_MAX": -3.4e38}.get(text, None) or float(
        text)


@functools.lru_cache(maxsize=64)
def filter_options(ffmpeg: str, name: str) -> dict[str, FilterOption]:
    text = run_ffmpeg_capture([ffmpeg, "-hide_banner", "-h", f"filter={name}"], timeout=30).decode()
    if f"Filter {name}" not in text:
        raise AssertionError(f"{ffmpeg} has no filter {name}")
    options: dict[str, FilterOption] = {}
    current: FilterOption | None = None
    for line in text.splitlines():
        if m := _OPTION.match(line):
            current = FilterOption(m.group(1), m.group(2))
            if r := _RANGE.search(m.group(3)):
                current.low, current.high = _number(r.group(1)), _number(r.group(2))
            options[current.name] = current
        elif (c := _CONSTANT.match(line)) and current is not None:
            current.constants.add(c.group(1))
    return options


@functools.lru_cache(maxsize=4)
def pixel_formats(ffmpeg: str) -> frozenset[str]:
    text = run_ffmpeg_capture([ffmpeg, "-hide_banner", "-pix_fmts"], timeout=30).decode()
    return frozenset(m.group(1) for m in re.finditer(r"^[IOHPB.]{5} (\S+)", text, re.MULTILINE))


def graph_filters(graph: str) -> list[tuple[str, str]]:
    """(name, arguments) of every filter in a ``-filter_complex`` graph, in order."""
    filters = []
    for chain in graph.split(";"):
        body = re.sub(r"\[[^\]]*\]", "", chain)
        for item in re.split(r"(?<!\\),", body):
            name, _, args = item.partition("=")
            filters.append((name, args))
    return filters


def check_filter_args(ffmpeg: str, name: str, args: str) -> list[str]:
    """Problems with ``name=args`` as the binary describes the filter; empty when every option is valid."""
    options = filter_options(ffmpeg, name)
    problems = []
    for pair in [p for p in args.split(":") if p]:
        key, sep, value = pair.partition("=")
        if not sep:
            problems.append(f"{name}: positional argument {pair!r} (name every option)")
            continue
        option = options.get(key)
        if option is None:
            problems.append(f"{name}: no option {key!r}")
        elif option.kind == "pix_fmt":
            if value not in pixel_formats(ffmpeg):
                problems.append(f"{name}: {key}={value} is not a pixel format")
        elif option.kind == "boolean":
            if value not in {"0", "1", "true", "false"}:
                problems.append(f"{name}: {key}={value} is not a boolean")
        elif option.kind in {"int", "float", "double", "int64"}:
            if value in option.constants:
                continue
            try:
                number = float(value)
            except ValueError:
                problems.append(f"{name}: {key}={value} is neither a number nor one of {sorted(option.constants)}")
                continue
            if option.low is not None and option.high is not None and not option.low <= number <= option.high:
                problems.append(f"{name}: {key}={value} is outside {option.low}..{option.high}")
    return problems
