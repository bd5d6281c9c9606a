"""Where bdp's log lines go: stderr, one line each, never mixed with `--json` on stdout.

Components log to loggers under `bdp` (`bdp.stream`, `bdp.etl`, …), one structured
line per unit of work, as `event key=value …`. A library does not print unless it is
told to: only the CLI (or a worker process it starts) calls `configure_logging`. The
CLI is quiet by default (WARNING: retries and trouble only) and jobs that run until
stopped log their work (INFO); `--log-level` or `[platform] log_level` overrides both.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["LEVELS", "ROOT", "configure_logging", "configured_level", "fields"]

ROOT = "bdp"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
RELAYS = ("bdp.bus.kafka.client",)
"""Loggers that relay a client library's own lines (librdkafka's: one per connection
attempt, dozens per outage). bdp reports the failure itself in one error, so these
show only at DEBUG."""


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time of the record, so a spinner or a
    test that replaces stderr still receives the lines."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current stderr


def configure_logging(level: str | int) -> None:
    """Send records of `bdp.*` at `level` and above to stderr; calling it again only
    changes the level."""
    logger = logging.getLogger(ROOT)
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    relayed = logging.DEBUG if logger.level <= logging.DEBUG else logging.CRITICAL + 1
    for name in RELAYS:
        logging.getLogger(name).setLevel(relayed)


def configured_level() -> int | None:
    """The level `configure_logging` set, or None if it was not called: what a process
    started later (a worker) passes on to keep its lines like its parent's."""
    logger = logging.getLogger(ROOT)
    if any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        return logger.level
    return None


def fields(**values: object) -> str:
    """`key=value …` for a log line; values with spaces or quotes are quoted."""
    return " ".join(f"{key}={_value(value)}" for key, value in values.items())


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    if not text or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text
