import io
from pathlib import Path

from quality.progress import Progress, ProgressBar, parse_progress

DATA = Path(__file__).parent.parent / "data"


def test_parse_progress_blocks() -> None:
    blocks = list(parse_progress((DATA / "progress_two_blocks.txt").read_text().splitlines()))
    assert blocks == [
        Progress(frame=12, fps=23.91, speed=0.797, out_time_s=0.4, done=False),
        Progress(frame=60, fps=None, speed=None, out_time_s=None, done=True),
    ]


def test_parse_progress_real_ffmpeg_output() -> None:
    blocks = list(parse_progress((DATA / "progress_vmaf.txt").read_text().splitlines()))
    assert len(blocks) == 1 and blocks[0].done and blocks[0].frame == 5


def test_progress_bar_is_silent_before_its_delay_then_reports() -> None:
    out = io.StringIO()
    bar = ProgressBar(delay=3600, stream=out)
    bar(Progress(10, None, None, None, False, total=100))
    assert out.getvalue() == ""
    bar = ProgressBar(delay=0, stream=out)
    bar(Progress(50, None, None, None, False, total=100))
    bar(Progress(100, None, None, None, True, total=100))
    lines = out.getvalue().splitlines()
    assert "50%" in lines[0] and "50/100" in lines[0]
    assert "100%" in lines[-1]
