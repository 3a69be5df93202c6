"""Stage the deployable Function app folder (and optionally its zip).

    python -m functions_app.bundle build/functionapp [--zip build/functionapp.zip] [--local-settings] [-n]

The Functions host imports ``function_app.py`` from the app root as a *top-level* module, while this code is the
package ``functions_app`` (as the tests and the local event dispatcher import it). So the app root is staged as:
``host.json``, ``requirements.txt``, ``.funcignore``, a one-line ``function_app.py`` that re-exports ``app``, and the
package itself. Deploy that folder with ``func azure functionapp publish`` or the zip with zip deploy.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

__all__ = ["APP_FILES", "MODULES", "SHIM", "stage", "make_zip", "main"]

HERE = Path(__file__).resolve().parent
APP_FILES = ("host.json", "requirements.txt", ".funcignore")
MODULES = ("__init__.py", "function_app.py", "ingest.py", "jobs.py", "records.py", "settings.py",
           "api.py", "api_clients.py", "api_settings.py", "auth.py", "fleet.py", "handlers.py", "links.py",
           "views.py", "web.py")
SHIM = ('"""Functions host entry point: the app is defined in the functions_app package."""\n\n'
        "from functions_app.function_app import app  # noqa: F401\n")


def plan(dest: Path, *, local_settings: bool = False) -> list[tuple[Path | None, Path]]:
    """(source, target) pairs; a ``None`` source is the generated entry point."""
    pairs: list[tuple[Path | None, Path]] = [(HERE / name, dest / name) for name in APP_FILES]
    pairs.append((None, dest / "function_app.py"))
    pairs += [(HERE / name, dest / "functions_app" / name) for name in MODULES]
    if local_settings:
        source = HERE / "local.settings.json"
        if not source.is_file():
            raise FileNotFoundError(f"{source} does not exist: copy local.settings.json.example to it first")
        pairs.append((source, dest / "local.settings.json"))
    return pairs


def stage(dest: Path, *, local_settings: bool = False) -> Path:
    """Write the app root to ``dest`` (replaced if it exists) and return it."""
    pairs = plan(dest, local_settings=local_settings)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "functions_app").mkdir(parents=True)
    for source, target in pairs:
        if source is None:
            target.write_text(SHIM, encoding="utf-8")
        else:
            shutil.copyfile(source, target)
    return dest


def make_zip(root: Path, zip_path: Path) -> Path:
    """Zip the staged root (``host.json`` at the top of the archive), leaving out local settings."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.name != "local.settings.json" and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(root).as_posix())
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions_app.bundle", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("dest", type=Path, help="folder to stage the app root in (replaced)")
    parser.add_argument("--zip", type=Path, default=None, help="also write this zip for zip deploy")
    parser.add_argument("--local-settings", action="store_true",
                        help="copy functions_app/local.settings.json too (for `func start`)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="print what would be written")
    args = parser.parse_args(argv)
    try:
        if args.dry_run:
            for source, target in plan(args.dest, local_settings=args.local_settings):
                print(f"{source or '(entry point)'} -> {target}")
            return 0
        root = stage(args.dest, local_settings=args.local_settings)
        print(root)
        if args.zip is not None:
            print(make_zip(root, args.zip))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
