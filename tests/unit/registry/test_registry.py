"""The one way components are chosen: names → light factories, capabilities, extras."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bdp.config import load_settings
from bdp.errors import MissingExtraError, UnknownNameError
from bdp.registry import Registry


@dataclass(frozen=True)
class Abilities:
    fast: bool


def make_registry(calls: list[tuple]) -> Registry[str, Abilities]:
    things: Registry[str, Abilities] = Registry("thing")

    @things.register("plain", Abilities(fast=False))
    def _plain(*args: object, **kwargs: object) -> str:
        calls.append(("plain", args, kwargs))
        return "a plain thing"

    @things.register("alias", Abilities(fast=True))
    @things.register("driven", Abilities(fast=True), requires="no_such_driver_xyz", extra="x")
    def _driven() -> str:
        calls.append(("driven",))
        return "a driven thing"

    return things


def test_open_calls_the_factory_with_the_arguments_given() -> None:
    calls: list[tuple] = []
    things = make_registry(calls)
    assert calls == []  # registering builds nothing
    assert things.open("plain", 1, key="v") == "a plain thing"
    assert calls == [("plain", (1,), {"key": "v"})]
    assert things.names() == ["alias", "driven", "plain"] == list(things)
    assert "alias" in things and "nope" not in things


def test_an_unknown_name_suggests_the_closest() -> None:
    things = make_registry([])
    with pytest.raises(
        UnknownNameError, match=r"unknown thing 'plan'\. Did you mean 'plain'"
    ) as caught:
        things.open("plan")
    assert caught.value.known == ["alias", "driven", "plain"]
    with pytest.raises(UnknownNameError):
        things.capabilities("plan")


def test_a_missing_driver_names_the_extra_and_builds_nothing() -> None:
    calls: list[tuple] = []
    things = make_registry(calls)
    with pytest.raises(MissingExtraError, match=r"pip install 'bdp\[x\]'") as caught:
        things.open("driven")
    assert (caught.value.module, caught.value.extra) == ("no_such_driver_xyz", "x")
    assert calls == []
    # What a backend can do is known without its driver.
    assert things.capabilities("driven") == Abilities(fast=True)
    # A name stacked on the same factory only shares the factory.
    assert things.open("alias") == "a driven thing"


def test_registration_mistakes_are_refused() -> None:
    things = make_registry([])
    with pytest.raises(ValueError, match="registered already"):
        things.register("plain", Abilities(fast=False))
    with pytest.raises(ValueError, match="name the extra"):
        things.register("other", Abilities(fast=False), requires="some_driver")


def test_an_unknown_lake_scheme_suggests_the_closest(tmp_path: Path) -> None:
    from bdp.lake import open_lake

    settings = load_settings(home=tmp_path, environ={"BDP_LAKE__URL": "hfds://nn:9000/bdp"})
    with pytest.raises(UnknownNameError, match=r"lake URL scheme 'hfds'\. Did you mean 'hdfs'"):
        open_lake(settings)


def test_the_embedded_backends_import_no_distributed_driver(tmp_path: Path) -> None:
    """Opening every embedded backend leaves the distributed ones' modules unimported."""
    script = f"""
import sys
from pathlib import Path
from bdp.bus import open_bus
from bdp.config import load_settings
from bdp.etl.engine import open_engine
from bdp.lake import open_lake
from bdp.warehouse import open_warehouse

settings = load_settings(home=Path({str(tmp_path)!r}), environ={{}})
with open_bus(settings), open_engine(settings), open_warehouse(settings):
    open_lake(settings)
heavy = ["confluent_kafka", "pyspark", "bdp.bus.kafka", "bdp.lake.hdfs", "bdp.etl.engine.spark"]
print(sorted(name for name in heavy if name in sys.modules))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
