"""The worker's series named in PromQL, and the series a /metrics exposition holds, to compare the two.

Enough PromQL for the alert rules and the gates' queries, not a parser: string literals, label matchers
(``{...}``), ranges (``[15m]``) and the label lists of ``by``, ``without``, ``on``, ``ignoring``, ``group_left``
and ``group_right`` are removed; then every identifier that is not a function call and starts with
``transcoder_``, or is ``up``, is a series name. A name given as ``{__name__="..."}`` is not seen.
"""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["exposition_names", "metric_names"]

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9_:])[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The ``transcoder_*`` series and ``up`` that ``expr`` selects."""
    text = _STRING.sub('""', expr)
    for pattern in (_MATCHERS, _RANGE, _LABEL_LIST):
        text = pattern.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group()
        if text[match.end():].lstrip().startswith("("):
            continue  # a function: rate(, sum(, absent(
        if name.startswith("transcoder_") or name == "up":
            names.add(name)
    return names


def exposition_names(text: str) -> set[str]:
    """The sample names of a Prometheus text exposition (``transcoder_jobs_total``, ``..._bucket``, ...)."""
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
