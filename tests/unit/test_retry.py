"""Bounded exponential backoff, for transient errors only, without sleeping in tests."""

from __future__ import annotations

import logging

import pytest

from bdp.errors import BdpError, TransientError
from bdp.retry import Backoff, RetriesExhausted, Retry


class Flaky:
    """Fails `times` times with `error`, then returns "done"."""

    def __init__(self, times: int, error: type[BdpError] = TransientError) -> None:
        self.times, self.error, self.calls = times, error, 0

    def __call__(self, suffix: str = "") -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error(f"failure {self.calls}")
        return "done" + suffix


def retry(sleeps: list[float], draw: float = 0.0, **backoff: float) -> Retry:
    return Retry(Backoff(**backoff), sleep=sleeps.append, draw=lambda: draw)


def test_waits_double_up_to_the_cap_then_it_succeeds() -> None:
    sleeps: list[float] = []
    operation = Flaky(5)
    result = retry(sleeps, attempts=6, base_delay_seconds=1, max_delay_seconds=5).call(
        "op", operation, "!"
    )
    assert (result, operation.calls) == ("done!", 6)
    assert sleeps == [1, 2, 4, 5, 5]


def test_jitter_shortens_each_wait_by_at_most_its_share() -> None:
    sleeps: list[float] = []
    retry(sleeps, draw=0.999, attempts=3, base_delay_seconds=2, jitter=0.25).call("op", Flaky(2))
    assert sleeps == pytest.approx([2 * (1 - 0.25 * 0.999), 4 * (1 - 0.25 * 0.999)])


def test_only_transient_errors_are_retried() -> None:
    sleeps: list[float] = []
    operation = Flaky(1, error=BdpError)
    with pytest.raises(BdpError, match="failure 1"):
        retry(sleeps).call("op", operation)
    assert (operation.calls, sleeps) == (1, [])

    def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        retry(sleeps).call("op", broken)
    assert sleeps == []


def test_running_out_raises_a_terminal_error_naming_what_and_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sleeps: list[float] = []
    operation = Flaky(10)
    with (
        caplog.at_level(logging.WARNING, logger="bdp.retry"),
        pytest.raises(RetriesExhausted) as caught,
    ):
        retry(sleeps, attempts=3).call("publish raw/x", operation)
    error = caught.value
    assert not isinstance(error, TransientError)  # nobody retries it again
    assert (error.what, error.attempts, str(error.last)) == ("publish raw/x", 3, "failure 3")
    assert str(error) == "publish raw/x: gave up after 3 attempts: failure 3"
    assert operation.calls == 3 and len(sleeps) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        'retry what="publish raw/x" attempt=2/3 delay_seconds=0.500 error="failure 1"',
        'retry what="publish raw/x" attempt=3/3 delay_seconds=1.000 error="failure 2"',
    ]


def test_one_attempt_means_no_retry() -> None:
    sleeps: list[float] = []
    with pytest.raises(RetriesExhausted):
        retry(sleeps, attempts=1).call("op", Flaky(1))
    assert sleeps == []


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"jitter": 1.5}, {"base_delay_seconds": -1}])
def test_a_backoff_that_makes_no_sense_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        Backoff(**bad)
