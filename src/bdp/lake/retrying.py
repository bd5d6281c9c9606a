"""A lake whose idempotent operations are retried when they fail transiently.

Reads, listings, publishing (an atomic replace of one file) and deleting give the same
result however often they run, so one that failed with a `TransientError` — a lake
server restarting, a timeout — is tried again with backoff (`bdp.retry`). Creating a
staging directory and swapping one into place are not retried: a second try after an
answer that got lost would make another directory, or find the staged one gone.
"""

from __future__ import annotations

from bdp.lake.base import FileInfo, Lake
from bdp.retry import Retry

__all__ = ["RetryingLake", "retrying"]


class RetryingLake(Lake):
    def __init__(self, inner: Lake, retry: Retry) -> None:
        self.inner = inner
        self.retry = retry
        self.capabilities = inner.capabilities
        self.url = inner.url

    def publish(self, path: str, data: bytes) -> None:
        self.retry.call(f"publish {path}", self.inner.publish, path, data)

    def read(self, path: str) -> bytes:
        return self.retry.call(f"read {path}", self.inner.read, path)

    def exists(self, path: str) -> bool:
        return self.retry.call(f"look up {path}", self.inner.exists, path)

    def list_files(self, prefix: str) -> list[FileInfo]:
        return self.retry.call(f"list files under {prefix}", self.inner.list_files, prefix)

    def list_dirs(self, prefix: str) -> list[str]:
        return self.retry.call(f"list directories under {prefix}", self.inner.list_dirs, prefix)

    def delete(self, path: str) -> None:
        self.retry.call(f"delete {path}", self.inner.delete, path)

    def staging_dir(self, purpose: str) -> str:
        return self.inner.staging_dir(purpose)

    def replace_dir(self, staged: str, path: str) -> None:
        self.inner.replace_dir(staged, path)

    def uri(self, path: str) -> str:
        return self.inner.uri(path)


def retrying(lake: Lake, retry: Retry) -> Lake:
    """`lake` with its idempotent operations retried (once: a wrapped lake is kept)."""
    return lake if isinstance(lake, RetryingLake) else RetryingLake(lake, retry)
