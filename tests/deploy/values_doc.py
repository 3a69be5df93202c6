"""The values table of helm/transcoder/README.md, generated from the `# --` comments in values.yaml.

    .venv/bin/python -m tests.deploy.values_doc --write    # rewrite the table in the README
    .venv/bin/python -m tests.deploy.values_doc --check    # exit 1 when the README's table is stale

A `# --` comment (continued by the `#` lines right under it) documents the key below it. A documented key is one
row, whatever its value (a list, a map); a key without a comment must be a map whose keys are all documented.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "transcoder"
START, END = "<!-- values-table:start -->", "<!-- values-table:end -->"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-/]+):(?: |$)")


@dataclass(frozen=True)
class Row:
    key: str
    description: str
    default: Any


def documented_keys(text: str) -> dict[str, str]:
    """Dotted key -> description, for every key that carries a `# --` comment."""
    docs: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    skip_deeper_than: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if skip_deeper_than is not None:
            if not stripped or indent > skip_deeper_than or stripped.startswith("- "):
                continue
            skip_deeper_than = None
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped[1:].strip())
            continue
        if not stripped:
            pending = None
            continue
        match = KEY.match(line)
        if not match:
            pending = None
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([k for _, k in stack] + [match["key"]])
        if pending is not None:
            docs[key] = " ".join(pending)
            skip_deeper_than = indent
            pending = None
        else:
            stack.append((indent, match["key"]))
    return docs


def lookup(values: dict[str, Any], key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        node = node[part]
    return node


def undocumented(values: dict[str, Any], docs: dict[str, str], prefix: str = "") -> list[str]:
    """Keys of values.yaml that have no `# --` comment of their own or of a documented ancestor."""
    missing = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in docs:
            continue
        if isinstance(value, dict) and value:
            missing += undocumented(value, docs, f"{path}.")
        else:
            missing.append(path)
    return missing


def rows(chart: Path = CHART) -> list[Row]:
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text)
    docs = documented_keys(text)
    return [Row(key, description, lookup(values, key)) for key, description in docs.items()]


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "string"


def _default(value: Any) -> str:
    shown = json.dumps(value, separators=(",", ":"))
    if len(shown) > 60:
        return "see values.yaml"
    return f"`{shown}`"


def table(chart: Path = CHART) -> str:
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for row in rows(chart):
        description = row.description.replace("|", "\\|")
        lines.append(f"| `{row.key}` | {_type(row.default)} | {_default(row.default)} | {description} |")
    return "\n".join(lines)


def readme_table(readme: str) -> str:
    """The table between the README's markers."""
    start, end = readme.index(START) + len(START), readme.index(END)
    return readme[start:end].strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite the table in the chart's README.md")
    group.add_argument("--check", action="store_true", help="exit 1 when the README's table is stale")
    args = parser.parse_args(argv)
    readme_path = CHART / "README.md"
    readme = readme_path.read_text()
    fresh = table()
    missing = undocumented(yaml.safe_load((CHART / "values.yaml").read_text()), documented_keys(
        (CHART / "values.yaml").read_text()))
    if missing:
        print(f"values without a `# --` comment: {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.check:
        if readme_table(readme) != fresh:
            print(f"{readme_path} has a stale values table: run python -m tests.deploy.values_doc --write",
                  file=sys.stderr)
            return 1
        return 0
    start, end = readme.index(START) + len(START), readme.index(END)
    readme_path.write_text(f"{readme[:start]}\n{fresh}\n{readme[end:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
