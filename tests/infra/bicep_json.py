"""Parse Bicep files with pycep-parser; run with the deploy tools' Python (pycep comes with checkov there).

    python bicep_json.py FILE...

Prints one JSON object: each file's path to ``{"template": <pycep's JSON>}`` or ``{"error": "<why>"}``. No Bicep
CLI is reachable from the package registries this project installs from, so pycep's tree is what the tests read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pycep import BicepParser  # type: ignore[import-not-found,unused-ignore]


def main(paths: list[str]) -> int:
    parser = BicepParser()
    out: dict[str, Any] = {}
    for path in paths:
        try:
            out[path] = {"template": parser.parse(file_path=Path(path))}
        except Exception as exc:  # pycep raises lark errors of many kinds; each is reported for its file
            out[path] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    json.dump(out, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
