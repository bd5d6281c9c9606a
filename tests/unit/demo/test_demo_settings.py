"""The demo's own topics: decided by the bus's capabilities, never by its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bdp import demo
from bdp.bus import BusCapabilities
from bdp.config import load_settings
from bdp.registry import Registry


@pytest.fixture
def buses(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """Two backends the demo has never heard of: one on a shared server, one not."""
    registry: Registry = Registry("bus backend")
    registry.register("memory", BusCapabilities(shared=False, kafka_protocol=False))(object)
    registry.register("pulsar", BusCapabilities(shared=True, kafka_protocol=False))(object)
    monkeypatch.setattr(demo, "BUSES", registry)
    return registry


def settings_for(tmp_path: Path, backend: str):
    environ = {"BDP_BUS__BACKEND": backend, "BDP_BUS__NAMESPACE": "team."}
    return load_settings(home=tmp_path, environ=environ)


def test_a_shared_bus_gets_a_namespace_of_the_demo_run(tmp_path: Path, buses: Registry) -> None:
    settings = demo.demo_settings(settings_for(tmp_path, "pulsar"))
    assert settings.bus.namespace.startswith("team.demo-")
    assert demo.demo_environment(settings) == {"BDP_BUS__NAMESPACE": settings.bus.namespace}


def test_a_bus_in_the_data_home_keeps_its_names(tmp_path: Path, buses: Registry) -> None:
    settings = demo.demo_settings(settings_for(tmp_path, "memory"))
    assert settings.bus.namespace == "team."
    assert settings.paths.home == (tmp_path / "demo").absolute()
    assert demo.demo_environment(settings) == {}
