"""One root for every error bdp raises, so callers can catch bdp's failures as a group.

`TransientError` marks failures worth retrying (a busy lock, a server away);
everything else is terminal. Errors keep their details as attributes.
"""

from __future__ import annotations

__all__ = [
    "BdpError",
    "ConfigError",
    "CorruptSegmentError",
    "MissingExtraError",
    "NotFoundError",
    "TransientError",
    "UnknownNameError",
]


class BdpError(Exception):
    """Root of bdp's errors."""


class TransientError(BdpError):
    """A failure that may pass if the operation is tried again."""


class ConfigError(BdpError):
    """The configuration is invalid; the message says which key and why."""


class CorruptSegmentError(BdpError):
    """Stored bus records fail their integrity check: a partition cannot be read on from
    `offset` until an operator repairs it (`bdp bus repair`). `file` and `position` say
    where the damage starts, `reason` what is wrong there."""

    def __init__(
        self, topic: str, partition: int, offset: int, file: str, position: int, reason: str
    ) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset
        self.file, self.position, self.reason = file, position, reason
        super().__init__(
            f"bus topic {topic!r} partition {partition} is corrupt at offset {offset}:"
            f" {reason} at byte {position} of {file}; nothing from there on can be read."
            f" Repair with: bdp bus repair {topic} --partition {partition}"
        )


class NotFoundError(BdpError):
    """A named thing (topic, partition, table, run) does not exist."""


class UnknownNameError(BdpError, KeyError):
    """A name that is not registered; carries the closest valid names."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        self.kind, self.name, self.known = kind, name, sorted(known)
        close = difflib.get_close_matches(name, self.known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Known: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MissingExtraError(BdpError, ImportError):
    """An optional driver is not installed; names the extra that brings it."""

    def __init__(self, module: str, extra: str) -> None:
        self.module, self.extra = module, extra
        super().__init__(f"{module} is not installed; install it with: pip install 'bdp[{extra}]'")
