"""A scripted WebHDFS NameNode on localhost: answers what a test tells it to.

MKDIRS succeeds unless told otherwise; any operation can be mapped to a status and a
body, to "hang" (no answer until the server closes) or to "truncate" (half an answer).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["Reply", "WebHdfs", "remote"]

Reply = tuple[int, bytes]


def remote(exception: str, message: str = "it went wrong") -> bytes:
    return json.dumps({"RemoteException": {"exception": exception, "message": message}}).encode()


class WebHdfs:
    """A NameNode that answers MKDIRS and whatever `replies` says for other operations;
    an operation mapped to "hang" gets no answer, "truncate" half of one."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply | str] = {}
        self.release = threading.Event()
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                op = parse_qs(urlsplit(self.path).query)["op"][0]
                reply = script.replies.get(op, (200, b'{"boolean": true}'))
                if reply == "hang":
                    script.release.wait()
                    return
                if reply == "truncate":
                    self.send_response(200)
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    self.wfile.write(b'{"boolean"')
                    self.close_connection = True
                    return
                status, body = reply
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebHdfs:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
