"""The report over what the pipeline really produces: simulated sessions of every dataset,
landed by the stream job and transformed by the ETL, for a small population.

The hand-made warehouse of the other report tests cannot notice a table or column the
ETL renamed: here such a rename skips a chart, and the test says which.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from bdp.bus import open_bus
from bdp.clock import day_start_ms
from bdp.config import load_settings
from bdp.datasets import DATASETS
from bdp.etl import run_etl
from bdp.lake import open_lake
from bdp.report import Report, build_report
from bdp.report.catalog import SECTIONS
from bdp.simulate import RaidOptions, SimulationParams, reference_users, send_events, simulate
from bdp.stream.embedded import EmbeddedStreamJob
from bdp.warehouse import open_warehouse

DAY = date(2024, 4, 16)
SCALE = 0.01
"""Of the reference population: a room or two per game, a few dozen users elsewhere."""
EXPECTED_CHARTS = {
    "events_over_time",
    "lol_champion_scatter",
    "lol_inputkey_pie",
    "lol_max_deaths",
    "lol_speed_histogram",
    "hotel_booking_rate_by_gender",
    "lostark_room_success_by_boss",
    "ad_view_minutes",
    "ad_clicks",
    "weblog_url_latency_errors",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    home = tmp_path_factory.mktemp("etl-day")
    settings = load_settings(home=home, environ={}, cwd=home)
    # Sessions start at noon, so every event falls on DAY.
    start_ms = day_start_ms(DAY, settings.tz, time(12))
    with open_bus(settings) as bus:
        with bus.producer() as producer:
            for name in DATASETS:
                params = SimulationParams(
                    start_ms=start_ms,
                    seed=3,
                    users=max(1, round(reference_users(name) * SCALE)),
                    raid=RaidOptions(tz=settings.platform.timezone),
                )
                bus.create_topic(name)
                send_events(producer, name, simulate(name, params))
        EmbeddedStreamJob(settings, open_lake(settings), list(DATASETS), bus=bus).run(
            until_idle=True
        )
    for name in DATASETS:
        assert all(rows > 0 for rows in run_etl(settings, name, DAY).tables.values()), name
    with open_warehouse(settings) as warehouse:
        return build_report(warehouse.query, DAY, settings.paths.reports)


def test_the_expected_charts_are_all_the_reports_charts() -> None:
    assert {spec.name for section in SECTIONS for spec in section.charts} == EXPECTED_CHARTS


def test_no_chart_is_skipped_on_a_day_of_etl_output(report: Report) -> None:
    assert report.skipped == {}


def test_every_expected_chart_is_a_png_beside_the_page(report: Report) -> None:
    assert {png.stem for png in report.charts} == EXPECTED_CHARTS
    for name in EXPECTED_CHARTS:
        png = report.html.parent / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_SIGNATURE, name
    page = report.html.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(EXPECTED_CHARTS)


def test_the_page_shows_no_table_as_missing_or_empty(report: Report) -> None:
    page = report.html.read_text(encoding="utf-8")
    assert "is not available" not in page and "has no rows for the day" not in page
    assert Path(report.html).name == f"report-{DAY.isoformat()}.html"
