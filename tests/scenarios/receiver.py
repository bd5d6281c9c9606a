"""A webhook receiver on 127.0.0.1 for the alert tests: it records every POST."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 answering each POST with the next status in `statuses`
    (the last one repeats); `hang` makes it take requests and never answer."""

    statuses: list[int]
    hang: bool = False
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@contextmanager
def receiving(statuses: list[int] | None = None) -> Iterator[Receiver]:
    """A `Receiver` listening on a free port of 127.0.0.1 until the block ends."""
    state = Receiver(statuses=statuses or [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append((dict(self.headers), body))
            if state.hang:
                state.release.wait(30)
                return
            status = state.statuses[min(len(state.requests), len(state.statuses)) - 1]
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/bdp"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
