"""Durable local writes: whole content or the old one, and no temporary file left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from bdp.localfs import atomic_write, temp_name


def test_atomic_write_creates_then_replaces_without_leaving_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "offsets.json"
    atomic_write(target, b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["offsets.json"]


def test_a_failed_write_keeps_the_old_content_and_removes_its_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "offsets.json"
    atomic_write(target, b"old")

    def refuse(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("bdp.localfs.os.replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["offsets.json"]


def test_temporaries_are_hidden_beside_their_target(tmp_path: Path) -> None:
    temp = temp_name(tmp_path / "part.jsonl.zst")
    assert temp.parent == tmp_path
    assert temp.name.startswith(".part.jsonl.zst.") and temp.name.endswith(".tmp")
