"""The daily report end to end over a small DuckDB warehouse."""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bdp.report import ChartsSkippedError, Report, build_report

SUMMARY = {
    "datasets": {
        "gamelogs": {
            "generated": 26000,
            "quarantined": 5,
            "lake_rows": 25995,
            "tables": {"lol_analysis_log": 25995, "lol_training_log": 25995},
            "seconds": {"simulate": 0.2, "stream": 0.5, "etl": 0.8},
        },
        "hotellogs": {"generated": 12345, "quarantined": 0, "lake_rows": 12345},
    }
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DAY = date(2024, 4, 16)
"""The day the shared warehouse fixture fills; checked against the `day` fixture below."""
OpenQuery = Callable[[Path], AbstractContextManager[Callable[[str], pa.Table]]]


def test_the_fixture_fills_the_day_these_tests_read(day: date) -> None:
    assert day == DAY


@pytest.fixture(scope="module")
def report(query: Callable[[str], pa.Table], tmp_path_factory: pytest.TempPathFactory) -> Report:
    return build_report(query, DAY, tmp_path_factory.mktemp("reports"), summary=SUMMARY)


@pytest.fixture(scope="module")
def page(report: Report) -> str:
    return report.html.read_text(encoding="utf-8")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_files_land_in_the_day_folder(report: Report) -> None:
    assert report.html.name == f"report-{DAY.isoformat()}.html"
    assert report.html.parent.name == DAY.isoformat()
    assert all(png.parent == report.html.parent for png in report.charts)


def test_charts_with_data_are_drawn_as_readable_pngs(report: Report) -> None:
    names = {png.stem for png in report.charts}
    assert names == {
        "events_over_time",
        "lol_champion_scatter",
        "lol_inputkey_pie",
        "lol_max_deaths",
        "lol_speed_histogram",
        "hotel_booking_rate_by_gender",
        "lostark_room_success_by_boss",
        "ad_view_minutes",
        "weblog_url_latency_errors",
    }
    for png in report.charts:
        width, height = _png_size(png)
        assert width >= 900 and height >= 400, png.name
        assert png.stat().st_size > 10_000, png.name


def test_page_is_titled_with_the_day_and_embeds_every_png(report: Report, page: str) -> None:
    assert f"<title>bdp daily report — {DAY.isoformat()}</title>" in page
    assert page.count('src="data:image/png;base64,') == len(report.charts)
    for png in report.charts:
        assert base64.b64encode(png.read_bytes()).decode("ascii") in page, png.name
    assert len(re.findall(r'<img [^>]*alt="[^"]+"', page)) == len(report.charts)


def test_page_is_self_contained(page: str) -> None:
    assert "<script" not in page
    assert "<link" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


def test_summary_figures_appear_at_the_top(page: str) -> None:
    summary_at = page.index("Run summary")
    assert summary_at < page.index('id="gamelogs"')
    for figure in ("26,000", "25,995", "12,345", "simulate: 0.20", "etl: 0.80"):
        assert figure in page, figure
    assert re.search(r'<td class="num">5</td>', page)


def test_missing_and_empty_tables_are_reported_as_skipped(report: Report, page: str) -> None:
    assert "ad_clicks" in report.skipped
    assert "ad_click_totals is not available" in report.skipped["ad_clicks"]
    assert not (report.html.parent / "ad_clicks.png").exists()
    assert "Skipped" in page and "ad_click_totals is not available" in page
    # hotel_analysis_log exists but holds only the previous day's rows.
    assert re.search(r"rows in hotel_analysis_log</th><td class=\"num\">0</td>", page)


def test_requiring_every_chart_names_each_skipped_one_and_why_on_one_line(
    report: Report,
) -> None:
    with pytest.raises(ChartsSkippedError) as caught:
        report.require_every_chart(DAY)
    assert caught.value.skipped == report.skipped and caught.value.html == report.html
    reason = report.skipped["ad_clicks"]
    assert str(caught.value) == (
        f"the report for {DAY} left out 1 chart (ad_clicks: {reason}); page: {report.html}"
    )
    Report(report.html, report.charts, skipped={}).require_every_chart(DAY)  # complete: fine
    several = ChartsSkippedError(DAY, {"a": "why\nover lines", "b": "why"}, Path("r.html"))
    expected = f"the report for {DAY} left out 2 charts (a: why over lines; b: why); page: r.html"
    assert str(several) == expected


def test_key_figures_count_only_the_day(page: str) -> None:
    # 4 champions × 60 events on the day; the other day's row is not counted.
    assert re.search(r"rows in lol_analysis_log</th><td class=\"num\">240</td>", page)
    assert re.search(r"rooms cleared</th><td class=\"num\">2</td>", page)
    assert re.search(r"champions</th><td class=\"num\">4</td>", page)


def test_every_query_filters_on_the_day(report: Report, sql_log: list[str]) -> None:
    assert sql_log
    for sql in sql_log:
        assert f"dt = DATE '{DAY.isoformat()}'" in sql, sql


def test_ad_names_are_drawn_with_the_bundled_hangul_font(page: str) -> None:
    from bdp.report.style import hangul_font

    assert hangul_font() is not None  # Nanum Gothic comes with bdp's dependencies
    assert "labelled by ad_id prefix" not in page


def test_ad_names_fall_back_to_id_prefixes_without_a_hangul_font() -> None:
    from bdp.report.charts.ads import ad_labels

    labels, note = ad_labels(["c41d7e93-aaaa", None], ["로스트아크", None], can_draw_names=False)
    assert labels == ["c41d7e93", "?"]
    assert note is not None and "c41d7e93 = 로스트아크" in note and "? = (no name)" in note
    assert ad_labels(["c41d7e93-aaaa"], ["로스트아크"], can_draw_names=True) == (
        ["로스트아크"],
        None,
    )


def test_an_empty_warehouse_gives_a_report_of_skips(tmp_path: Path, open_query: OpenQuery) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with open_query(path) as query:
        report = build_report(query, DAY, tmp_path / "out")
    assert report.charts == []
    assert len(report.skipped) == 10
    page = report.html.read_text(encoding="utf-8")
    assert DAY.isoformat() in page and "Run summary" not in page


def test_a_rerun_removes_the_png_of_a_chart_now_skipped(
    tmp_path: Path, open_query: OpenQuery
) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE ad_click_totals (ad_id VARCHAR, ad_name VARCHAR, "
        "total_click_count BIGINT, dt DATE)"
    )
    con.execute(f"INSERT INTO ad_click_totals VALUES ('abcdef0123', 'x', 7, DATE '{DAY}')")
    con.close()
    with open_query(path) as query:
        first = build_report(query, DAY, tmp_path / "out")
    assert [png.stem for png in first.charts] == ["ad_clicks"]
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE ad_click_totals")
    con.close()
    with open_query(path) as query:
        second = build_report(query, DAY, tmp_path / "out")
    assert second.charts == [] and not first.charts[0].exists()


def test_a_chart_failing_on_present_data_raises_with_its_name(
    tmp_path: Path, open_query: OpenQuery
) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    # The rate column is missing: a schema bug, which must not pass as a skip.
    con.execute("CREATE TABLE hotel_gender_daily (gender VARCHAR, users BIGINT, dt DATE)")
    con.execute(f"INSERT INTO hotel_gender_daily VALUES ('female', 3, DATE '{DAY}')")
    con.close()
    with open_query(path) as query, pytest.raises(duckdb.BinderException) as caught:
        build_report(query, DAY, tmp_path / "out")
    assert any("hotel_booking_rate_by_gender" in note for note in caught.value.__notes__)
