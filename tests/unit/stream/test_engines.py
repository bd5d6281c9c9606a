"""Stream engines are chosen by configuration, checked by capabilities, named by the bus."""

from __future__ import annotations

from pathlib import Path

import pytest

from bdp.config import load_settings
from bdp.errors import ConfigError, UnknownNameError
from bdp.lake.local import LocalLake
from bdp.stream import STREAM_ENGINES, StreamJob, open_stream_job
from bdp.stream.embedded import EmbeddedStreamJob
from bdp.stream.spark import SparkStreamJob


def settings_with(tmp_path: Path, **environ: str):
    return load_settings(home=tmp_path, environ=environ, cwd=tmp_path)


def test_the_embedded_engine_is_the_default(tmp_path: Path) -> None:
    job = open_stream_job(settings_with(tmp_path), ["weblogs"])
    assert isinstance(job, EmbeddedStreamJob) and job.name == "embedded"
    assert job.capabilities.bus_backends is None  # any bus, through bdp's interface
    assert list(job.stats) == ["weblogs"]


def test_the_setting_chooses_the_engine_and_the_argument_overrides_it(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text('[stream]\nengine = "spark"\n[bus]\nbackend = "kafka"\n')
    settings = load_settings(home=tmp_path, environ={}, cwd=tmp_path)
    assert isinstance(open_stream_job(settings, ["weblogs"]), SparkStreamJob)
    job = open_stream_job(settings, ["weblogs"], engine="embedded")
    assert isinstance(job, EmbeddedStreamJob)


def test_an_unknown_engine_gets_the_closest_name(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, BDP_STREAM__ENGINE="embeded")
    with pytest.raises(UnknownNameError, match="Did you mean 'embedded'"):
        open_stream_job(settings, ["weblogs"])


def test_an_engine_refuses_a_bus_its_capabilities_do_not_name(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)  # the embedded bus
    assert SparkStreamJob.capabilities.bus_backends == frozenset({"kafka"})
    with pytest.raises(ConfigError, match=r"needs bus\.backend 'kafka'; it is 'local'"):
        open_stream_job(settings, ["weblogs"], engine="spark")


def test_spark_subscribes_to_the_names_the_kafka_bus_gives_its_topics(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, BDP_BUS__BACKEND="kafka", BDP_BUS__NAMESPACE="run7.")
    job = open_stream_job(settings, ["weblogs", "adlogs"], engine="spark")
    assert job._by_topic == {  # the broker's names → the datasets they carry
        "run7.weblogs": job.datasets[0],
        "run7.adlogs": job.datasets[1],
    }


def test_every_engine_is_a_stream_job_with_a_name(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, BDP_BUS__BACKEND="kafka")
    for name, factory in STREAM_ENGINES.items():
        job = factory(settings, LocalLake(tmp_path / "lake"), ["weblogs"])
        assert isinstance(job, StreamJob) and job.name == name


def test_workers_on_an_engine_without_them_are_reported_not_ignored_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_with(tmp_path, BDP_BUS__BACKEND="kafka", BDP_STREAM__WORKERS="3")
    assert not SparkStreamJob.capabilities.parallel_workers
    with caplog.at_level("WARNING", logger="bdp.stream"):
        open_stream_job(settings, ["weblogs"], engine="spark")
        open_stream_job(settings, ["weblogs"], engine="embedded")
    assert [r.getMessage() for r in caplog.records] == [
        "stream.workers=3 is not used by stream engine 'spark', which spreads work itself"
    ]
