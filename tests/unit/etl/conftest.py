"""Shared fixtures: an engine, a lake in a temporary home, and raw files written by hand."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from bdp.config import Settings, load_settings
from bdp.datasets import get_dataset
from bdp.etl.engine.duckdb import DuckDBEngine
from bdp.etl.transforms import TransformOptions, get_transform
from bdp.lake.local import LocalLake


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(
        threads=1, memory_limit_mb=256, scratch_root=tmp_path_factory.mktemp("x")
    ) as e:
        yield e


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home", environ={}, cwd=tmp_path)


@pytest.fixture
def lake(settings: Settings) -> LocalLake:
    return LocalLake(settings.paths.lake)


def encode(lines: list[str], name: str) -> bytes:
    body = ("\n".join(lines) + "\n").encode()
    if name.endswith(".zst"):
        return zstandard.ZstdCompressor().compress(body)
    if name.endswith(".gz"):
        return gzip.compress(body)
    return body


def write_raw(lake: LocalLake, dataset: str, day: dt.date, name: str, lines: list[str]) -> str:
    path = f"raw/{dataset}/dt={day.isoformat()}/{name}"
    lake.publish(path, encode(lines, name))
    return path


def plain(value: Any) -> Any:
    """Timestamps as naive UTC, so expectations read the same on every engine."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def rows(df: Any, *order: str) -> list[dict[str, Any]]:
    found = [{k: plain(v) for k, v in row.asDict().items()} for row in df.collect()]
    return sorted(found, key=lambda r: tuple((r[k] is None, r[k]) for k in order))


def build(
    engine: DuckDBEngine,
    tmp_path: Path,
    dataset: str,
    lines: list[str],
    options: TransformOptions | None = None,
) -> dict[str, Any]:
    """Run one transform on hand-written raw lines."""
    source = tmp_path / f"{dataset}-{len(list(tmp_path.iterdir()))}.jsonl.zst"
    source.write_bytes(encode(lines, source.name))
    raw = engine.read_raw(get_dataset(dataset), [str(source)])
    transform, options = get_transform(dataset), options or TransformOptions()
    events = engine.materialize(transform.typed(raw, engine, options))
    return transform.build(events, engine, options)
