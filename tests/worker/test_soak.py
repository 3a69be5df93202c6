"""Small jobs through real workers killed (SIGKILL) and restarted at random: every upload accounted exactly once
(the full run, 200 jobs through 3 workers, is ``python -m loadtest.soak``; docs/service.md)."""

from __future__ import annotations

import pytest

from loadtest.soak import soak

pytestmark = [pytest.mark.azurite, pytest.mark.ffmpeg]


def test_fifteen_jobs_through_two_workers_killed_at_random(stack) -> None:
    stack.start_events(workers=4)
    result = soak(stack, jobs=15, workers=2, kill_every=(0.5, 1.5), timeout=240, seed=3)
    assert result["kills"] >= 1
    assert result["succeeded"] == result["records"] == 15
    assert (result["lost"], result["published_twice"], result["records_wrong"]) == (0, 0, 0)
    assert result["queue_left"] == result["poisoned"] == 0 and result["extra_job_folders"] == []
