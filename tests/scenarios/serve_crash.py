"""`bdp serve` killed with SIGKILL again and again while clients send and retry: every
acknowledged event lands exactly once, and a SIGTERM stops it cleanly with exit 0.
Run against any bus: the environment given chooses it."""

from __future__ import annotations

import http.client
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

from bdp.config import load_settings
from bdp.lake import open_lake
from bdp.lake.rawfiles import decode_lines
from tests.scenarios.serve_clients import ForwardSender, HttpSender

BATCHES = 400
KILLS = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Serve:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.http_port, self.forward_port = free_port(), free_port()
        self.env = dict(env)
        self.env.update(
            BDP_COLLECT__HTTP__PORT=str(self.http_port),
            BDP_COLLECT__FORWARD__PORT=str(self.forward_port),
            BDP_STREAM__BATCH_MAX_DELAY_MS="200",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bdp", "--home", str(self.home), "serve"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def ready(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=1)
            connection.request("GET", "/readyz")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            assert self.process is not None and self.process.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve never became ready"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


def landed_urls(home: Path) -> list[str]:
    lake = open_lake(load_settings(home=home, environ={}))
    return [
        orjson.loads(line)["url"]
        for info in lake.list_files("raw/weblogs")
        for line in decode_lines(lake.read(info.path), info.path)
    ]


def kill_serve_while_clients_send(home: Path, env: dict[str, str]) -> None:
    serve = Serve(home, env)
    serve.start()
    serve.wait_ready()
    senders = [
        HttpSender(serve.http_port, first=0, batches=BATCHES),
        HttpSender(serve.http_port, first=100_000, batches=BATCHES),
        ForwardSender(serve.forward_port, first=200_000, batches=BATCHES),
        ForwardSender(serve.forward_port, first=300_000, batches=BATCHES),
    ]
    threads = [threading.Thread(target=s.run) for s in senders]
    for thread in threads:
        thread.start()
    rng = random.Random(11)
    kills = 0
    try:
        while kills < KILLS and any(thread.is_alive() for thread in threads):
            # Kill once the clients have had some answers from this server.
            before = sum(len(s.acknowledged) for s in senders)
            deadline = time.monotonic() + 60
            while sum(len(s.acknowledged) for s in senders) <= before:
                assert time.monotonic() < deadline, "no client got an answer"
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.3))
            serve.kill()
            kills += 1
            serve.start()
            serve.wait_ready()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in threads)
    except BaseException:
        serve.kill()  # a failed run leaves no server behind
        raise
    finally:
        for sender in senders:
            sender.stop.set()
    # SIGTERM lands what was read and what the collectors acknowledged, then exits 0.
    assert serve.terminate() == 0
    assert kills >= 3, "the clients finished before the server was killed three times"
    acknowledged = [f"/e/{n}" for s in senders for n in s.acknowledged]
    assert len(acknowledged) == 4 * BATCHES * 50
    urls = landed_urls(serve.home)
    assert len(urls) == len(set(urls)), "an event landed twice"
    assert set(acknowledged) <= set(urls), "an acknowledged event was lost"
    assert sum(s.retries for s in senders) > 0  # the kills did interrupt requests
