"""Dockerfile.gpu read instruction by instruction, its ffmpeg check run against real and fake ffmpeg builds, and,
where a Docker engine answers, the image built and probed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import HERE, ROOT, run, tool

DOCKERFILE = ROOT / "Dockerfile.gpu"


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    args: str
    comments: tuple[str, ...]


def instructions(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined as Docker joins them (the backslash and newline removed,
    comment lines inside dropped), each with the comment lines right above it."""
    result: list[Instruction] = []
    comments: list[str] = []
    stage = -1
    lines = iter(text.splitlines())
    for line in lines:
        stripped = line.strip()
        if not stripped:
            comments = []
            continue
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("# "))
            continue
        while line.endswith("\\"):
            nxt = next(lines)
            line = line[:-1] + (nxt if not nxt.strip().startswith("#") else "\\")
        keyword, _, args = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        result.append(Instruction(stage, keyword.upper(), args.strip(), tuple(comments)))
        comments = []
    return result


@pytest.fixture(scope="module")
def steps() -> list[Instruction]:
    return instructions(DOCKERFILE.read_text())


def final(steps: list[Instruction]) -> list[Instruction]:
    last = max(s.stage for s in steps)
    return [s for s in steps if s.stage == last]


def test_gpu_or_cpu_base_chosen_by_build_argument(steps: list[Instruction]) -> None:
    assert steps[0].keyword == "ARG" and steps[0].args == "ENABLE_GPU=true"
    assert steps[1].keyword == "ARG" and steps[1].args == "FFMPEG_SOURCE=wheel"  # the compiled ffmpeg is opt-in
    froms = [s.args for s in steps if s.keyword == "FROM"]
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-runtime-ubuntu24\.04 AS base-true", froms[0]), froms[0]
    assert froms[1] == "ubuntu:24.04 AS base-false"
    assert froms[2] == "base-${ENABLE_GPU} AS runtime-base"
    assert froms[3] == "runtime-base AS ffmpeg-wheel"
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-devel-ubuntu24\.04 AS ffmpeg-build", froms[4]), froms[4]
    assert froms[5] == "ffmpeg-${FFMPEG_SOURCE} AS ffmpeg"
    assert froms[6:] == ["runtime-base AS build", "runtime-base"], "multi-stage: build, then the final image"
    assert not [f for f in froms if ":latest" in f]


def test_the_compiled_ffmpeg_has_libvmaf_with_cuda(steps: list[Instruction]) -> None:
    build = [s for s in steps if s.stage == 4]
    runs = " ".join(s.args for s in build if s.keyword == "RUN")
    assert "-Denable_cuda=true" in runs and "--enable-libvmaf" in runs and "--enable-nonfree" in runs
    assert '--branch "${VMAF_TAG}"' in runs and 'grep -q " libvmaf_cuda "' in runs
    args = {s.args.split("=")[0]: s.args.split("=")[1] for s in build if s.keyword == "ARG"}
    assert args["VMAF_TAG"].startswith("v3.") and args["FFMPEG_TAG"].startswith("n")


def test_final_image_runs_the_worker_as_a_numeric_non_root_user(steps: list[Instruction]) -> None:
    last = {s.keyword: s.args for s in final(steps)}
    assert last["USER"] == "10001:10001"
    assert json.loads(last["ENTRYPOINT"]) == ["python", "-m", "worker"], "exec form: SIGTERM reaches Python"
    assert json.loads(last["CMD"]) == ["run"]
    healthcheck = last["HEALTHCHECK"]
    assert json.loads(healthcheck.split(" CMD ", 1)[1]) == ["python", "-m", "worker", "healthcheck"]
    env = last["ENV"]
    for setting in ["NVIDIA_DRIVER_CAPABILITIES=compute,video,utility", "FFMPEG_BINARY=/opt/venv/bin/ffmpeg",
                    "PATH=/opt/venv/bin:$PATH", "TMPDIR=/tmp", "WORKER_SCRATCH_DIR=/scratch"]:
        assert setting in env.split(), setting


def test_no_build_secrets_and_no_compilers_in_the_final_image(steps: list[Instruction]) -> None:
    text = DOCKERFILE.read_text()
    assert "--mount=type=secret" not in text and "--secret" not in text
    assert not [s for s in steps if s.keyword == "ARG" and re.search(r"TOKEN|SECRET|PASSWORD|KEY", s.args, re.I)]
    installs = " ".join(s.args for s in steps if s.keyword == "RUN" and "apt-get install" in s.args
                        and s.stage != 4)  # only the opt-in ffmpeg-build stage compiles
    assert not re.search(r"\b(gcc|g\+\+|clang|build-essential|make|python3-dev)\b", installs), installs
    final_runs = " ".join(s.args for s in final(steps) if s.keyword == "RUN")
    assert "apt-get" not in final_runs and "pip install" not in final_runs
    copies = [s.args for s in final(steps) if s.keyword == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv", "--from=ffmpeg /opt/ffmpeg /opt/ffmpeg"]


def test_ffmpeg_is_the_pinned_imageio_ffmpeg_the_tests_use(steps: list[Instruction]) -> None:
    import imageio_ffmpeg

    (arg,) = [s.args for s in steps if s.keyword == "ARG" and s.args.startswith("IMAGEIO_FFMPEG_VERSION=")]
    assert arg == f"IMAGEIO_FFMPEG_VERSION={imageio_ffmpeg.__version__}"
    install = next(s.args for s in steps if s.keyword == "RUN" and "pip install" in s.args)
    assert '"imageio-ffmpeg==${IMAGEIO_FFMPEG_VERSION}"' in install
    assert "ln -s" in install and "/opt/venv/bin/ffmpeg" in install


def test_dockerignore_keeps_the_context_to_what_the_image_copies(steps: list[Instruction]) -> None:
    patterns = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and not p.startswith("#")]
    assert patterns[0] == "*"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "quality", "worker"}
    copied = set()
    for step in steps:
        if step.keyword == "COPY" and not step.args.startswith("--from"):
            copied.update(step.args.split()[:-1])
    assert copied == allowed


def test_the_build_context_builds_the_worker_package(tmp_path: Path) -> None:
    """What the build stage installs, from exactly what .dockerignore lets into the context."""
    context = tmp_path / "context"
    context.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    for package in ("quality", "worker"):
        shutil.copytree(ROOT / package, context / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path / "wheel"
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(context)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"worker/__main__.py", "worker/ladder.py", "quality/__init__.py", "quality/py.typed"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "functions_app/", "localdev/"))]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "transcode-worker = worker.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def ffmpeg_check(steps: list[Instruction]) -> str:
    (check,) = [s for s in final(steps) if s.keyword == "RUN" and any("Fail the build" in c for c in s.comments)]
    return check.args


def run_check(script: str, ffmpeg: str, enable_gpu: str,
              ffmpeg_source: str = "wheel") -> subprocess.CompletedProcess[str]:
    """The check as the build runs it: bash with pipefail, `ffmpeg` on PATH, ENABLE_GPU from the build argument."""
    bin_dir = Path(ffmpeg).parent / f"bin-{Path(ffmpeg).name}-{enable_gpu}"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "ffmpeg").exists():
        (bin_dir / "ffmpeg").symlink_to(ffmpeg)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "ENABLE_GPU": enable_gpu,
           "FFMPEG_SOURCE": ffmpeg_source}
    return subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.ffmpeg
@pytest.mark.parametrize("enable_gpu", ["true", "false"])
def test_the_build_check_passes_with_the_pinned_ffmpeg(steps: list[Instruction], ffmpeg: str, tmp_path: Path,
                                                       enable_gpu: str) -> None:
    (tmp_path / "ffmpeg").symlink_to(ffmpeg)
    result = run_check(ffmpeg_check(steps), str(tmp_path / "ffmpeg"), enable_gpu)
    assert result.returncode == 0, result.stderr
    expected = ("libx264 h264_nvenc hevc_nvenc libvmaf scale_cuda transpose_cuda bwdif_cuda hwupload_cuda"
                if enable_gpu == "true" else "libx264 libvmaf")
    assert result.stdout.strip() == f"ffmpeg has {expected}"


def fake_ffmpeg(path: Path, encoders: list[str], filters: list[str]) -> str:
    """A stand-in that lists ``encoders`` and ``filters`` the way ffmpeg does."""
    enc = "\n".join(f" V....D {e:<20} fake" for e in encoders)
    flt = "\n".join(f" .. {f:<17} V->V       fake" for f in filters)
    path.write_text(f'#!/bin/sh\ncase "$*" in\n  *-encoders*) printf "%s\\n" "{enc}" ;;\n'
                    f'  *-filters*) printf "%s\\n" "{flt}" ;;\nesac\n')
    path.chmod(0o755)
    return str(path)


def test_the_build_check_fails_when_nvenc_or_cuda_filters_are_missing(steps: list[Instruction],
                                                                      tmp_path: Path) -> None:
    check = ffmpeg_check(steps)
    cpu_only = fake_ffmpeg(tmp_path / "cpu-only", ["libx264", "libx265"], ["libvmaf", "scale"])
    result = run_check(check, cpu_only, "true")
    assert result.returncode == 1
    assert ("lacks: encoder:h264_nvenc encoder:hevc_nvenc filter:scale_cuda filter:transpose_cuda "
            "filter:bwdif_cuda filter:hwupload_cuda;") in result.stderr
    assert run_check(check, cpu_only, "false").returncode == 0
    # names that merely start like the required ones do not count
    lookalikes = fake_ffmpeg(tmp_path / "lookalikes", ["libx264rgb", "h264_nvenc_x"], ["libvmaf_cuda"])
    result = run_check(check, lookalikes, "false")
    assert result.returncode == 1 and "lacks: encoder:libx264 filter:libvmaf;" in result.stderr


@pytest.mark.timeout(3600)
def test_image_builds_and_probes_where_a_docker_engine_runs() -> None:
    result = run([tool("python"), str(HERE / "docker_image.py"), str(ROOT)], timeout=None)
    if result.returncode == 77:
        pytest.skip(f"{result.stdout.strip()} (this machine has the docker CLI but no engine)")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    data = json.loads(result.stdout.splitlines()[-1])
    assert data["probe"]["ffmpeg"], data


def test_the_build_check_asks_the_compiled_ffmpeg_for_libvmaf_cuda(steps: list[Instruction], tmp_path: Path) -> None:
    check = ffmpeg_check(steps)
    gpu_filters = ["libvmaf", "scale_cuda", "transpose_cuda", "bwdif_cuda", "hwupload_cuda"]
    wheel_like = fake_ffmpeg(tmp_path / "wheel-like", ["libx264", "h264_nvenc", "hevc_nvenc"], gpu_filters)
    assert run_check(check, wheel_like, "true", "wheel").returncode == 0
    result = run_check(check, wheel_like, "true", "build")
    assert result.returncode == 1 and "lacks: filter:libvmaf_cuda;" in result.stderr
    built = fake_ffmpeg(tmp_path / "built", ["libx264", "h264_nvenc", "hevc_nvenc"], [*gpu_filters, "libvmaf_cuda"])
    assert run_check(check, built, "true", "build").returncode == 0
    result = run_check(check, built, "false", "build")
    assert result.returncode == 1 and "needs ENABLE_GPU=true" in result.stderr
