"""A lake that fails on purpose, to test retries without a server.

It wraps a real lake and makes chosen operations fail: the first `fail_first` calls of
each, then each call with probability `probability` (a seeded RNG, so a run repeats). A
failure strikes before the operation, or — as when a server's answer is lost — after
it took effect, which is what makes re-publishing the same file necessary and safe.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from bdp.errors import BdpError, TransientError
from bdp.lake.base import FileInfo, Lake, LakeCapabilities

__all__ = ["FlakyLake", "LakeHiccup"]


class LakeHiccup(TransientError):
    """The injected transient failure."""


class FlakyLake(Lake):
    def __init__(
        self,
        inner: Lake,
        *,
        operations: tuple[str, ...] = ("publish", "read", "exists"),
        fail_first: int = 0,
        probability: float = 0.0,
        seed: int = 0,
        error: Callable[[str], BdpError] = lambda what: LakeHiccup(f"injected failure: {what}"),
        capabilities: LakeCapabilities | None = None,
    ) -> None:
        """`capabilities` may pretend, e.g. that files have no local paths, so callers
        take the path they take on a remote lake (downloads, uploads)."""
        self.inner = inner
        self.capabilities = capabilities or inner.capabilities
        self.url = inner.url
        self.operations = operations
        self.fail_first = fail_first
        self.probability = probability
        self.error = error
        self.rng = random.Random(seed)
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.failed_after: Counter[str] = Counter()
        """Failures reported after the operation had taken effect."""

    def _call(self, name: str, *args: Any) -> Any:
        operation = getattr(self.inner, name)
        if name not in self.operations:
            return operation(*args)
        self.calls[name] += 1
        fail = self.calls[name] <= self.fail_first or self.rng.random() < self.probability
        if not fail:
            return operation(*args)
        self.failures[name] += 1
        if self.rng.random() < 0.5:
            operation(*args)
            self.failed_after[name] += 1
        raise self.error(f"{name} {args[0] if args else ''}")

    def publish(self, path: str, data: bytes) -> None:
        self._call("publish", path, data)

    def read(self, path: str) -> bytes:
        return self._call("read", path)

    def exists(self, path: str) -> bool:
        return self._call("exists", path)

    def list_files(self, prefix: str) -> list[FileInfo]:
        return self._call("list_files", prefix)

    def list_dirs(self, prefix: str) -> list[str]:
        return self._call("list_dirs", prefix)

    def delete(self, path: str) -> None:
        self._call("delete", path)

    def staging_dir(self, purpose: str) -> str:
        return self._call("staging_dir", purpose)

    def replace_dir(self, staged: str, path: str) -> None:
        self._call("replace_dir", staged, path)

    def uri(self, path: str) -> str:
        return self.inner.uri(path)
