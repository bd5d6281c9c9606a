"""The end-to-end demo: simulate a day of every dataset, land it, transform it, report.

It runs in its own data home (`<home>/demo`), emptied at the start, so it can be
re-run at will and its counts always reconcile: for every dataset,
generated = lake raw rows + quarantined, and curated rows = warehouse rows.
A few malformed records are sent alongside the simulated ones to show the quarantine.
The demo makes data for every chart of the report, so it fails, naming them, when the
report leaves any out.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bdp.bus import BUSES, Producer, open_bus
from bdp.clock import day_start_ms
from bdp.config import Settings
from bdp.datasets import DATASETS
from bdp.etl import run_etl
from bdp.lake import open_lake
from bdp.simulate import RaidOptions, SimulationParams, send_events, simulate
from bdp.status import dataset_rows
from bdp.stream.embedded import EmbeddedStreamJob

__all__ = ["DatasetSummary", "DemoResult", "demo_environment", "demo_settings", "run_demo"]

DEMO_START = dt.time(12, 0)
"""Sessions start at noon local time, so a whole session stays inside the demo's day."""


def _bad_records(limit: int) -> dict[str, bytes]:
    return {
        "invalid_json": b'{"this is": not json',
        "not_utf8": b'{"text": "\xff\xfe"}',
        "missing_field": b'{"datetime": "2024-01-01T00:00:00.000Z"}',
        "wrong_type": b"[1, 2, 3]",
        "empty": b"",
        "too_large": b'{"padding": "' + b"x" * limit + b'"}',
    }


@dataclass
class DatasetSummary:
    generated: int = 0
    injected_bad: int = 0
    quarantined: int = 0
    lake_rows: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "injected_bad": self.injected_bad,
            "quarantined": self.quarantined,
            "lake_rows": self.lake_rows,
            "tables": self.tables,
            "seconds": {stage: round(s, 3) for stage, s in self.seconds.items()},
        }


@dataclass
class DemoResult:
    day: dt.date
    home: Path
    datasets: dict[str, DatasetSummary]
    report: Path | None
    charts: list[Path]
    env: dict[str, str] = field(default_factory=dict)
    """Settings, as environment variables, that point bdp at the demo's own topics and
    lake when they are not found from its home alone (a real broker, a lake URL)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": str(self.day),
            "home": str(self.home),
            "env": self.env,
            "datasets": {name: s.as_dict() for name, s in self.datasets.items()},
            "report": str(self.report) if self.report else None,
            "charts": [str(chart) for chart in self.charts],
        }


def demo_settings(settings: Settings) -> Settings:
    """The demo's own home; on a shared bus, topics of its own; in a lake elsewhere
    (HDFS), a `demo` directory of its own.

    Emptying the home resets an embedded bus and lake; a real broker keeps topics and
    committed offsets across runs, so each run gets a fresh namespace there instead.
    """
    update: dict[str, Any] = {"home": settings.home / "demo"}
    if settings.lake.url:
        url = settings.lake.url.rstrip("/") + "/demo"
        update["lake"] = settings.lake.model_copy(update={"url": url})
    if BUSES.capabilities(settings.bus.backend).shared:
        run = f"{settings.bus.namespace}demo-{uuid.uuid4().hex[:8]}-"
        update["bus"] = settings.bus.model_copy(update={"namespace": run})
    return settings.model_copy(update=update)


def demo_environment(settings: Settings) -> dict[str, str]:
    """What `demo_settings` changed besides the home, as `BDP_*` variables."""
    env = {}
    if settings.lake.url:
        env["BDP_LAKE__URL"] = settings.lake.url
    if BUSES.capabilities(settings.bus.backend).shared:
        env["BDP_BUS__NAMESPACE"] = settings.bus.namespace
    return env


def run_demo(
    settings: Settings,
    day: dt.date,
    scale: float = 1.0,
    seed: int = 0,
    inject_bad: bool = True,
    on_stage: Callable[[str, str], None] | None = None,
) -> DemoResult:
    """Run the whole platform for one simulated day in `<home>/demo`."""
    settings = demo_settings(settings)
    home = settings.paths.home
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    if settings.lake.url:
        open_lake(settings).delete("")  # a lake outside the home: empty its demo directory
    notify = on_stage or (lambda stage, name: None)
    summaries = {name: DatasetSummary() for name in DATASETS}
    start_ms = day_start_ms(day, settings.tz, DEMO_START)

    with open_bus(settings) as bus:
        with bus.producer() as producer:
            for name, summary in summaries.items():
                notify("simulate", name)
                began = time.perf_counter()
                params = SimulationParams(
                    start_ms=start_ms,
                    seed=seed,
                    users=_scaled_users(name, scale),
                    raid=RaidOptions(tz=settings.platform.timezone),
                )
                bus.create_topic(name)
                summary.generated = send_events(producer, name, simulate(name, params))
                if inject_bad:
                    summary.injected_bad = _send_bad(producer, name, settings)
                    summary.generated += summary.injected_bad
                summary.seconds["simulate"] = time.perf_counter() - began
        lake = open_lake(settings)
        for name, summary in summaries.items():
            notify("stream", name)
            began = time.perf_counter()
            EmbeddedStreamJob(settings, lake, [name], bus=bus).run(until_idle=True)
            summary.seconds["stream"] = time.perf_counter() - began
            rows = dataset_rows(lake, name)
            summary.lake_rows, summary.quarantined = rows.total("raw"), rows.total("quarantine")

    for name, summary in summaries.items():
        notify("etl", name)
        result = run_etl(settings, name, day)
        summary.tables = dict(result.tables)
        summary.seconds["etl"] = result.seconds

    notify("report", "all")
    report, charts = _report(settings, day, summaries)
    return DemoResult(day, home, summaries, report, charts, demo_environment(settings))


def _scaled_users(dataset: str, scale: float) -> int | None:
    from bdp.simulate import reference_users

    if scale == 1.0:
        return None
    return max(1, round(reference_users(dataset) * scale))


def _send_bad(producer: Producer, topic: str, settings: Settings) -> int:
    bad = list(_bad_records(settings.stream.max_record_bytes).values())
    producer.send_batch(topic, bad)
    producer.flush()
    return len(bad)


def _report(
    settings: Settings, day: dt.date, summaries: dict[str, DatasetSummary]
) -> tuple[Path | None, list[Path]]:
    from bdp.report import build_report
    from bdp.warehouse import open_warehouse

    summary = {"datasets": {name: s.as_dict() for name, s in summaries.items()}}
    with open_warehouse(settings) as warehouse:
        report = build_report(warehouse.query, day, settings.paths.reports, summary)
    # The demo makes data for every chart: a skipped one is a defect (a table renamed,
    # a load gone missing) to fail on, not a gap to leave in the page.
    report.require_every_chart(day)
    return report.html, report.charts
