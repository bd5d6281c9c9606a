"""`bdp serve` as a user runs it: one line when it cannot start, health endpoints, and a
clean exit on SIGTERM."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_port_in_use_stops_serve_with_one_line_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bdp", "--home", str(tmp_path / "home"), "serve"],
            env=_env(
                BDP_COLLECT__HTTP__PORT=str(port),
                BDP_COLLECT__FORWARD__PORT=str(_free_port()),
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(port) in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_serve_answers_health_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    http_port = _free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "bdp", "--home", str(tmp_path / "home"), "serve"],
        env=_env(
            BDP_COLLECT__HTTP__PORT=str(http_port),
            BDP_COLLECT__FORWARD__PORT=str(_free_port()),
            # The test's keep-alive connections stay open: they must not hold the stop
            # for this long (the wait below gives up far sooner).
            BDP_SERVE__DRAIN_TIMEOUT_SECONDS="600",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        answers: dict[str, tuple[int, dict]] = {}
        while "/readyz" not in answers or answers["/readyz"][0] != 200:
            assert serve.poll() is None and time.monotonic() < deadline, "serve never got ready"
            try:
                for path in ("/healthz", "/readyz"):
                    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
                    connection.request("GET", path)
                    response = connection.getresponse()
                    answers[path] = (response.status, orjson.loads(response.read()))
            except OSError:
                time.sleep(0.05)
        assert answers["/healthz"] == (200, {"status": "ok"})
        assert answers["/readyz"][1]["status"] == "ready"
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=120)
    log = serve.stderr.read() if serve.stderr else ""
    assert code == 0, log
    assert " INFO bdp.serve serve status=ready " in log
    assert " INFO bdp.serve serve status=stopped " in log
