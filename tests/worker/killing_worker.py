"""``python -m tests.worker.killing_worker STAGE``: a real ``python -m worker run`` that kills itself with SIGKILL
at one point of publishing, as a node failure would: no ``finally`` runs, nothing is released or recorded.

STAGE: ``mid-upload`` (half of the attempt's files uploaded), ``before-manifest`` (every file uploaded, no
manifest), ``after-manifest`` (the manifest written, the record and the message not yet updated).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from worker import __main__ as worker_main
from worker.storage import BlobStore


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    stage = sys.argv[1]
    upload_package, create_json = BlobStore.upload_package, BlobStore.create_json

    def half_then_die(self: BlobStore, folder: Path, container: str, prefix: str, **kwargs: Any) -> list[str]:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        half = Path(tempfile.mkdtemp())
        for path in files[: len(files) // 2]:
            (half / path.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, half / path.relative_to(folder))
        upload_package(self, half, container, prefix, **kwargs)
        die()
        raise AssertionError("unreachable")

    def die_before(self: BlobStore, *args: Any, **kwargs: Any) -> str | None:
        die()
        raise AssertionError("unreachable")

    def die_after(self: BlobStore, *args: Any, **kwargs: Any) -> str | None:
        create_json(self, *args, **kwargs)
        die()
        raise AssertionError("unreachable")

    patch = {"mid-upload": ("upload_package", half_then_die), "before-manifest": ("create_json", die_before),
             "after-manifest": ("create_json", die_after)}[stage]
    setattr(BlobStore, *patch)
    sys.exit(worker_main.run(["run"]))


if __name__ == "__main__":
    main()
