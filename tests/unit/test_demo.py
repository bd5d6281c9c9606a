"""`bdp demo`'s report step: a chart left out of the report fails the demo."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
import pytest

import bdp.cli.output
import bdp.demo
from bdp.cli.app import main
from bdp.config import Settings
from bdp.report import ChartsSkippedError

DAY = "2024-04-16"


def test_a_chart_left_out_fails_the_demo_with_one_line_naming_it_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_etl = bdp.demo.run_etl

    def etl_losing_a_table(settings: Settings, dataset: str, day):
        result = run_etl(settings, dataset, day)
        if dataset == "adlogs":  # the table the ad_clicks chart needs goes missing
            with duckdb.connect(settings.paths.warehouse) as warehouse:
                warehouse.execute("DROP TABLE ad_click_totals")
        return result

    monkeypatch.setattr(bdp.demo, "run_etl", etl_losing_a_table)
    for name in [n for n in os.environ if n.startswith(("BDP_", "HADOOP_"))]:
        monkeypatch.delenv(name)  # the embedded profile, whatever the shell points at
    reported: list[BaseException] = []
    report_error = bdp.cli.output.report_error

    def spy(exc: BaseException, code: int) -> int:
        reported.append(exc)
        return report_error(exc, code)

    monkeypatch.setattr(bdp.cli.output, "report_error", spy)
    home = tmp_path / "home"
    argv = ["bdp", "--home", str(home), "demo", "--date", DAY, "--scale", "0.01", "--json"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    [error] = reported
    assert isinstance(error, ChartsSkippedError)
    assert list(error.skipped) == ["ad_clicks"]
    assert error.skipped["ad_clicks"].startswith("table ad_click_totals is not available")
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"the report for {DAY} left out 1 chart (ad_clicks: table ad_c")
    page = home / "demo" / "reports" / DAY / f"report-{DAY}.html"
    assert message.endswith(f"); page: {page}")
    out, err = capsys.readouterr()
    assert out == ""
    # That message, and nothing else (Rich may wrap it where stderr is not a terminal).
    assert "".join(err.split()) == "".join(f"error: {message}".split())
    # Everything else is drawn, and the page says what is missing.
    assert "ad_click_totals is not available" in page.read_text(encoding="utf-8")
    assert (page.parent / "ad_view_minutes.png").is_file()
    assert not (page.parent / "ad_clicks.png").exists()
