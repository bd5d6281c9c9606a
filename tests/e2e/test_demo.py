"""`bdp demo` end to end: every count reconciles and the report is written."""

from __future__ import annotations

from pathlib import Path

from bdp.report.catalog import SECTIONS
from tests.e2e.conftest import as_json

DAY = "2024-04-16"
EXPECTED_TABLES = {
    "gamelogs": {"lol_analysis_log", "lol_training_log"},
    "hotellogs": {"hotel_analysis_log", "hotel_gender_daily"},
    "lostarklogs": {"lostark_analysis_log", "lostark_training_log", "lostark_room_results"},
    "adlogs": {"ad_analysis_logs", "ad_view_totals", "ad_click_totals", "ad_gender_view_totals"},
    "weblogs": {"weblog_access_log", "weblog_url_daily"},
}


def test_demo_reconciles_every_dataset(bdp, tmp_path: Path) -> None:
    summary = as_json(bdp("demo", "--date", DAY, "--scale", "0.2", "--json"))
    assert summary["date"] == DAY
    assert set(summary["datasets"]) == set(EXPECTED_TABLES)
    home = summary["home"]
    for name, figures in summary["datasets"].items():
        assert figures["generated"] > figures["injected_bad"] > 0
        # Nothing lost: every generated record is in the lake or in quarantine.
        assert figures["generated"] == figures["lake_rows"] + figures["quarantined"], name
        assert figures["quarantined"] == figures["injected_bad"], name
        assert set(figures["tables"]) == EXPECTED_TABLES[name]
        for table, rows in figures["tables"].items():
            sql = f"SELECT count(*) AS n FROM {table} WHERE dt = DATE '{DAY}'"
            count = as_json(bdp("query", sql, "--json", home=home))
            assert count == [{"n": rows}], table
    analysis = summary["datasets"]["gamelogs"]["tables"]["lol_analysis_log"]
    assert analysis == summary["datasets"]["gamelogs"]["lake_rows"]
    report = Path(summary["report"])
    assert report.is_file() and DAY in report.read_text()
    assert summary["charts"] and all(Path(chart).is_file() for chart in summary["charts"])
    # The demo fails when the report leaves a chart out: it has drawn every one.
    every_chart = {spec.name for section in SECTIONS for spec in section.charts}
    assert {Path(chart).stem for chart in summary["charts"]} == every_chart


def test_demo_prints_a_summary_for_people(bdp) -> None:
    out = bdp("demo", "--date", DAY, "--scale", "0.05").stdout
    for name in EXPECTED_TABLES:
        assert name in out
    assert "Report:" in out and "Try next" in out
