"""Retrying operations that failed with a `TransientError`, with bounded exponential backoff.

Only errors raised as transient are retried (a server away, a busy lock); anything else
is a fact that another try cannot change and goes straight to the caller. Each retry is
logged on the caller's logger. When the attempts run out, `RetriesExhausted` — a
terminal error — says what was tried, how often, and the last failure, in one line.

Only idempotent operations should be retried: publishing a file (an atomic replace),
reading, listing, saving a checkpoint. The delay function and the random source are
injectable, so tests run without sleeping.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from bdp.errors import BdpError, TransientError
from bdp.logs import fields

__all__ = ["Backoff", "RetriesExhausted", "Retry"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """How often to try and how long to wait in between.

    The wait before retry n (1-based) is `base_delay_seconds * 2**(n-1)`, capped at
    `max_delay_seconds`, then shortened by up to `jitter` of itself at random so that
    many clients failing together do not retry together.
    """

    attempts: int = 6
    """Tries in all, the first included; 1 means no retry."""
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, not {self.jitter}")
        if self.base_delay_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError("delays cannot be negative")

    def delay(self, retry: int, draw: float) -> float:
        """Seconds to wait before retry number `retry`; `draw` is uniform in [0, 1)."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** (retry - 1))
        return ceiling * (1 - self.jitter * draw)


class RetriesExhausted(BdpError):
    """A transient failure that outlasted every attempt; terminal, so nobody retries it
    again. Keeps what was tried, the attempts and the last error."""

    def __init__(self, what: str, attempts: int, last: BaseException) -> None:
        self.what, self.attempts, self.last = what, attempts, last
        super().__init__(f"{what}: gave up after {attempts} attempts: {last}")


@dataclass(frozen=True)
class Retry:
    """Calls an operation until it succeeds, fails terminally or runs out of attempts."""

    backoff: Backoff = Backoff()
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("bdp.retry"))
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random

    def call(self, what: str, operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`operation(*args, **kwargs)`, retried on `TransientError`; `what` names it in
        logs and in the final error (e.g. "publish raw/weblogs/dt=…/part-…")."""
        attempts = self.backoff.attempts
        for attempt in range(1, attempts + 1):
            try:
                return operation(*args, **kwargs)
            except TransientError as exc:
                if attempt == attempts:
                    raise RetriesExhausted(what, attempts, exc) from exc
                delay = self.backoff.delay(attempt, self.draw())
                self.log.warning(
                    "retry %s",
                    fields(
                        what=what,
                        attempt=f"{attempt + 1}/{attempts}",
                        delay_seconds=delay,
                        error=str(exc),
                    ),
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises
