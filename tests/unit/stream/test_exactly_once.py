"""The landing job is exactly once under SIGKILL at random moments, with a live producer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.scenarios.sigkill import assert_exactly_once, kill_while_producing

RECORDS = 200_000
KILLS = 20


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, workers: int
) -> None:
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BDP_")},
        "BDP_STREAM__BATCH_RECORDS": "7000",
        "BDP_STREAM__POLL_TIMEOUT_MS": "20",
        "BDP_STREAM__WORKERS": str(workers),
    }
    # Workers are separate interpreters and take longer to start: kill later, produce slower.
    window, pace = ((0.5, 1.5), 0.12) if workers == 1 else ((1.2, 2.8), 0.3)
    run = kill_while_producing(home, env, RECORDS, KILLS, window, pace)
    # The kills hit a job at work: progress was made between kills, and the kills aimed at
    # a batch in flight caught one between recording its range and finishing it.
    assert run.landed_between_kills >= KILLS // 3, run.progress
    assert run.caught_mid_batch >= 1, run.progress
    assert_exactly_once(home, RECORDS)
