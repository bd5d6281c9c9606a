"""One `[[collect.tail]]` source: its files, followed through rotation, into the bus.

Every poll re-expands the globs, so files that appear are picked up; a file is known by
its device and inode, so a rename keeps its position. A file that left the globs (a
rotation renamed it, or it was deleted) is still read for `rotate_wait_seconds` — its
writer may add a last line — then read to its end, unfinished last line included, and
let go. A file that shrank below its position was truncated in place (copytruncate)
and is read again from its start. Each batch of lines is sent and awaited until
durable, and only then is the file's new position saved.

No file can stop the source: one that cannot be opened or is not a regular file is
logged once and passed over (and tried again at each poll), and a failing bus makes
the source wait and send the same lines again, with the same ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import stat
import time
from dataclasses import dataclass, field

from bdp.collect.base import Backpressure, Collected, IngestUnavailable, find_dataset
from bdp.collect.ingest import Ingest
from bdp.collect.keys import read_field
from bdp.collect.tail.formats import FORMATS
from bdp.collect.tail.lines import Line, offset_after_last_line, read_lines
from bdp.collect.tail.positions import FilePosition, PositionStore, line_id, positions_path
from bdp.config import Settings, TailSourceSettings
from bdp.logs import fields

__all__ = ["TailSource", "TailStats"]

LOG = logging.getLogger("bdp.collect.tail")

MAX_ERROR_WAIT_SECONDS = 30.0


@dataclass
class TailStats:
    """Counts since start, for health output and tests."""

    lines: int = 0
    oversize_lines: int = 0
    truncations: int = 0
    polls: int = 0


@dataclass
class _TrackedFile:
    position: FilePosition
    fd: int
    gone_since: float | None = None
    """Monotonic time the globs stopped matching it."""


@dataclass
class TailSource:
    settings: Settings
    source: TailSourceSettings
    ingest: Ingest
    stats: TailStats = field(default_factory=TailStats)

    def __post_init__(self) -> None:
        self.dataset = find_dataset(self.settings, self.source.dataset)
        self.to_record = FORMATS[self.source.format]
        self.max_line_bytes = self.settings.stream.max_record_bytes
        self.store = PositionStore(positions_path(self.settings, self.source), self.source)
        self.files: dict[tuple[int, int], _TrackedFile] = {}
        self._saved: dict[tuple[int, int], FilePosition] = {}
        self._warned: set[str] = set()
        self._last_epoch = 0

    # -- lifecycle -------------------------------------------------------------------

    def open(self) -> None:
        """Load the saved positions and take in the files there are now (blocking)."""
        saved = self.store.load()
        self._saved = saved or {}
        self._discover(time.monotonic(), first_run=saved is None)
        self.store.save(self._positions())

    async def run(self, stopping: asyncio.Event) -> None:
        errors = 0
        while not stopping.is_set():
            wait = self.source.poll_interval_ms / 1000
            try:
                busy = await self._poll(stopping)
                errors = 0
            except (Backpressure, IngestUnavailable) as exc:
                LOG.warning("tail waits %s", fields(dataset=self.dataset.name, reason=str(exc)))
                busy, wait = False, exc.retry_after_seconds
            except Exception as exc:  # a long-running source must outlive any one failure
                errors += 1
                wait = min(MAX_ERROR_WAIT_SECONDS, wait * 2**errors)
                LOG.error(
                    "tail failed %s",
                    fields(dataset=self.dataset.name, error=str(exc) or type(exc).__name__),
                    exc_info=LOG.isEnabledFor(logging.DEBUG),
                )
                busy = False
            self.stats.polls += 1
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=wait)

    def close(self) -> None:
        for tracked in self.files.values():
            os.close(tracked.fd)
        self.files.clear()

    # -- one poll --------------------------------------------------------------------

    async def _poll(self, stopping: asyncio.Event) -> bool:
        now = time.monotonic()
        if await asyncio.to_thread(self._discover, now, False):
            await asyncio.to_thread(self.store.save, self._positions())
        busy = False
        for identity, tracked in list(self.files.items()):
            if stopping.is_set():
                break
            gone = tracked.gone_since
            letting_go = gone is not None and now - gone >= self.source.rotate_wait_seconds
            try:
                chunk = await asyncio.to_thread(
                    read_lines,
                    tracked.fd,
                    tracked.position.offset,
                    self.source.read_batch_lines,
                    self.max_line_bytes,
                    letting_go,
                )
            except OSError as exc:  # one failing file (EIO, a vanished mount) stops no other
                self._warn_once(tracked.position.path, f"cannot read it: {exc.strerror or exc}")
                continue
            self._warned.discard(tracked.position.path)
            if chunk.lines:
                await self._send(tracked.position, chunk.lines)
                busy = True
            moved = chunk.next_offset != tracked.position.offset
            tracked.position.offset = chunk.next_offset
            if letting_go and chunk.at_eof:
                LOG.info("tail let go %s", fields(path=tracked.position.path, rotated=True))
                os.close(tracked.fd)
                del self.files[identity]
            if moved or identity not in self.files:
                await asyncio.to_thread(self.store.save, self._positions())
        return busy

    async def _send(self, position: FilePosition, lines: list[Line]) -> None:
        values: list[bytes] = []
        for line in lines:
            if line.length > self.max_line_bytes:
                # Its head goes on unparsed: the stream job quarantines it as oversize.
                self.stats.oversize_lines += 1
                LOG.warning(
                    "tail oversize line %s",
                    fields(
                        path=position.path,
                        offset=line.offset,
                        bytes=line.length,
                        limit=self.max_line_bytes,
                    ),
                )
                values.append(line.data)
                continue
            values.append(self.to_record(line.data))
        key_field = self.dataset.key_field
        collected = Collected(
            dataset=self.dataset,
            values=values,
            # A cut (oversize) or broken line has no key: it is not JSON.
            partition_keys=read_field(values, key_field) if key_field else None,
            ids=[line_id(position, line.offset) for line in lines],
            source=f"tail {position.path}",
        )
        await self.ingest.send(collected)
        self.stats.lines += len(lines)
        LOG.info(
            "tail sent %s",
            fields(
                dataset=self.dataset.name,
                path=position.path,
                lines=len(lines),
                first_offset=lines[0].offset,
            ),
        )

    # -- finding files -----------------------------------------------------------------

    def _discover(self, now: float, first_run: bool) -> bool:
        """Match the globs; return whether a position must be saved before reading on
        (a file taken in, or found truncated, has a new epoch)."""
        changed = False
        seen: set[tuple[int, int]] = set()
        for path in self._expand():
            try:
                status = os.stat(path)
            except FileNotFoundError:
                continue  # gone between the glob and the stat
            except OSError as exc:
                self._warn_once(path, f"cannot look at it: {exc.strerror or exc}")
                continue
            if not stat.S_ISREG(status.st_mode):
                self._warn_once(path, "not a regular file")
                continue
            identity = (status.st_dev, status.st_ino)
            if identity in seen:
                continue  # two globs, or a link, name the same file
            tracked = self.files.get(identity)
            if tracked is None:
                tracked = self._take_in(path, identity, status.st_size, first_run)
                if tracked is None:
                    continue
                self.files[identity] = tracked
                changed = True
            seen.add(identity)
            tracked.position.path = path
            tracked.gone_since = None
        for identity, tracked in self.files.items():
            if identity not in seen and tracked.gone_since is None:
                tracked.gone_since = now
            if os.fstat(tracked.fd).st_size < tracked.position.offset:
                self._restart_truncated(tracked)
                changed = True
        return changed

    def _expand(self) -> list[str]:
        paths: list[str] = []
        for pattern in self.source.paths:
            paths.extend(sorted(glob.glob(os.path.expanduser(pattern), recursive=True)))
        return paths

    def _take_in(
        self, path: str, identity: tuple[int, int], size: int, first_run: bool
    ) -> _TrackedFile | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._warn_once(path, f"cannot open it: {exc.strerror or exc}")
            return None
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != identity or not stat.S_ISREG(opened.st_mode):
            os.close(fd)  # replaced since the stat: the next poll takes the new one
            return None
        self._warned.discard(path)
        position = self._saved.pop(identity, None)
        if position is None:
            offset = 0
            if first_run and self.source.start_at == "end":
                offset = offset_after_last_line(fd, size)
            position = FilePosition(identity[0], identity[1], self._new_epoch(), offset, path)
        LOG.info("tail follows %s", fields(path=path, offset=position.offset))
        return _TrackedFile(position, fd)

    def _restart_truncated(self, tracked: _TrackedFile) -> None:
        self.stats.truncations += 1
        LOG.warning(
            "tail file truncated %s",
            fields(path=tracked.position.path, was_at=tracked.position.offset),
        )
        tracked.position.offset = 0
        tracked.position.epoch = self._new_epoch()

    def _new_epoch(self) -> int:
        self._last_epoch = max(time.time_ns() // 1000, self._last_epoch + 1)
        return self._last_epoch

    def _positions(self) -> list[FilePosition]:
        return [tracked.position for tracked in self.files.values()]

    def _warn_once(self, path: str, reason: str) -> None:
        if path not in self._warned:
            self._warned.add(path)
            LOG.warning("tail skips %s", fields(path=path, reason=reason))
