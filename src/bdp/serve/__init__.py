"""`bdp serve`: one long-running process for the collectors and the stream job.

The collectors run on one asyncio loop in the main process and hand their records to
one `Ingest`; the stream job runs in a child process (landing is CPU-bound Python and
must not take the collectors' interpreter lock). SIGTERM stops accepting, lets what is
in flight be acknowledged, lands and commits what the stream job has read, and exits 0.
"""

from __future__ import annotations

from bdp.serve.server import Server, ServerHealth

__all__ = ["Server", "ServerHealth"]
