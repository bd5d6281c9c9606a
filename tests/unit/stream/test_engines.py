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
    assert not job.capabilities.kafka_client  # any bus, through bdp's interface
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


def test_an_engine_with_a_kafka_client_refuses_a_bus_without_kafkas_protocol(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path)  # the embedded bus
    assert SparkStreamJob.capabilities.kafka_client
    with pytest.raises(ConfigError, match=r"the 'local' bus does not speak Kafka's protocol"):
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
    for name in STREAM_ENGINES:
        job = STREAM_ENGINES.open(name, settings, LocalLake(tmp_path / "lake"), ["weblogs"])
        assert isinstance(job, StreamJob) and job.name == name
        assert job.capabilities == STREAM_ENGINES.capabilities(name)


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


class _FailedQuery:
    def __init__(self, failure: Exception | None) -> None:
        self.failure = failure

    def exception(self) -> Exception | None:
        return self.failure


def test_a_failed_spark_batch_reaches_the_user_as_bdp_s_own_one_line_error(
    tmp_path: Path,
) -> None:
    from bdp.retry import RetriesExhausted
    from bdp.stream import StreamError

    settings = settings_with(tmp_path, BDP_BUS__BACKEND="kafka")
    job = open_stream_job(settings, ["weblogs"], engine="spark")
    job._raise_failure(_FailedQuery(None))  # nothing failed: nothing raised
    # The batch's own error, when it is bdp's, as it was raised (not Spark's trace of it).
    gave_up = RetriesExhausted("publish raw/x", 3, OSError("lake away"))
    job._failure = gave_up
    with pytest.raises(RetriesExhausted) as caught:
        job._raise_failure(_FailedQuery(RuntimeError("py4j trace\n  at ...\n  at ...")))
    assert caught.value is gave_up
    # Anything else, or a failure of Spark's own: one line saying the query failed.
    job._failure = None
    with pytest.raises(StreamError) as failed:
        job._raise_failure(_FailedQuery(RuntimeError("Kafka topic gone\n  at org.apache...")))
    assert str(failed.value) == "spark stream query failed: Kafka topic gone"
