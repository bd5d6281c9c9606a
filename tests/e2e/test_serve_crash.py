"""`bdp serve` on the embedded bus, killed with SIGKILL again and again while HTTP and
forward clients send and retry: every acknowledged event lands exactly once."""

from __future__ import annotations

import os
from pathlib import Path

from tests.scenarios.serve_crash import kill_serve_while_clients_send


def test_every_acknowledged_event_lands_once_through_repeated_sigkills(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    kill_serve_while_clients_send(tmp_path / "home", env)
