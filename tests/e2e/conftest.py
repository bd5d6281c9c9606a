from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

Run = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def bdp(tmp_path: Path) -> Run:
    """Run the CLI as a user would, in a fresh working directory and data home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}

    def run(
        *args: str,
        check: bool = True,
        env_extra: dict[str, str] | None = None,
        home: str | Path | None = None,
    ):
        result = subprocess.run(
            [sys.executable, "-m", "bdp", "--home", str(home or tmp_path / "home"), *args],
            cwd=tmp_path,
            env={**env, **(env_extra or {})},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"bdp {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    return run


def as_json(result: subprocess.CompletedProcess):
    return orjson.loads(result.stdout)
