"""What one locust run needs to know, passed from ``python -m loadtest`` to the locust process as JSON in the
``LOADTEST_RUN`` environment variable (not on the command line: it may carry an account key or a SAS)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from loadtest.gates import Gates
from loadtest.target import Target

__all__ = ["RunConfig", "Scenario"]

Scenario = Literal["raw", "ingest", "e2e"]
"""``raw``: uploads only; ``ingest``: uploads that become jobs; ``e2e``: real clips transcoded to a manifest."""


@dataclass(frozen=True)
class RunConfig:
    scenario: Scenario
    target: Target
    container: str
    prefix: str  # blob names start with it: "<run id>/<scenario>/"
    payload: str  # path of the file every upload sends
    uploads_log: str  # each locust process writes <stem>.<pid>.jsonl: one Uploaded per line
    summary_path: str  # the upload statistics and the gate verdict, written on quitting
    gates: Gates = field(default_factory=Gates)
    extension: str = ".mp4"
    content_type: str = "video/mp4"
    wait: tuple[float, float] = (0.0, 0.0)  # seconds between one user's uploads (uniform in the range)
    uploads_per_user: int = 0  # 0: no limit
    request_timeout: float = 60.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        raw: dict[str, Any] = json.loads(text)
        raw["target"] = Target(**raw["target"])
        raw["gates"] = Gates(**raw["gates"])
        raw["wait"] = (float(raw["wait"][0]), float(raw["wait"][1]))
        return cls(**raw)
