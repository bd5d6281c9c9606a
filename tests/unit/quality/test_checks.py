"""The checks on a small real day of ETL output: all pass as loaded, and each fails when
the data it guards is broken behind bdp's back."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from bdp.config import Settings, load_settings
from bdp.datasets import DATASETS
from bdp.etl import run_etl
from bdp.lake import open_lake
from bdp.lake.rawfiles import encode_lines, raw_file_name
from bdp.quality import CheckResult, run_checks, table_rules
from bdp.warehouse import open_warehouse
from tests.scenarios.etl_day import DAY, change_warehouse, home_settings
from tests.scenarios.orders import CUSTOM_TRANSFORM, encoded, good_orders, write_dataset


def checks(settings: Settings, dataset: str, dt: date = DAY) -> list[CheckResult]:
    with open_warehouse(settings) as warehouse:
        return run_checks(settings, dataset, dt, open_lake(settings), warehouse)


def one(results: list[CheckResult], check: str, table: str | None = None) -> CheckResult:
    [found] = [r for r in results if r.check == check and table in (None, r.table)]
    return found


def failed(results: list[CheckResult]) -> list[tuple[str, str]]:
    return [(r.check, r.table) for r in results if not r.passed]


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_check_passes_on_a_day_as_the_etl_loaded_it(built_day: Path, dataset: str) -> None:
    results = checks(home_settings(built_day), dataset)
    assert failed(results) == []
    names = {r.check for r in results}
    assert {"reconcile_curated", "reconcile_warehouse", "required_not_null"} <= names
    assert "row_count_band" in names
    # Every table is reconciled: the records table from raw, the others with the lake.
    tables = {r.table for r in results if r.check.startswith(("reconcile", "warehouse_vs"))}
    assert tables == set(table_rules(home_settings(built_day), dataset).tables)
    for result in results:
        assert result.detail and "\n" not in result.detail


def test_lost_ark_reconciles_with_the_room_results_it_drops(built_day: Path) -> None:
    results = checks(home_settings(built_day), "lostarklogs")
    reconciled = one(results, "reconcile_warehouse")
    landed = int(reconciled.expected)
    assert reconciled.passed and reconciled.observed == landed
    assert "+ dropped (room_result " in reconciled.detail
    with open_warehouse(home_settings(built_day)) as warehouse:
        analysis = warehouse.row_count("lostark_analysis_log", DAY)
    assert 0 < analysis < landed  # the rooms' results are left out, and counted


def test_rows_deleted_from_the_warehouse_fail_its_reconciliation(day: Settings) -> None:
    change_warehouse(
        day,
        "DELETE FROM lol_analysis_log WHERE id IN (SELECT id FROM lol_analysis_log LIMIT 5)",
    )
    results = checks(day, "gamelogs")
    assert failed(results) == [("reconcile_warehouse", "lol_analysis_log")]
    broken = one(results, "reconcile_warehouse")
    assert broken.observed == int(broken.expected) - 5
    assert "but" in broken.detail
    assert one(results, "reconcile_curated").passed  # the lake still holds the day


def test_an_emptied_table_fails_against_its_curated_partition(day: Settings) -> None:
    change_warehouse(day, "DELETE FROM ad_click_totals WHERE dt = ?", [DAY])
    results = checks(day, "adlogs")
    assert failed(results) == [("warehouse_vs_curated", "ad_click_totals")]
    broken = one(results, "warehouse_vs_curated", "ad_click_totals")
    assert broken.observed == 0 and int(broken.expected) > 0


def test_a_duplicate_key_fails_its_table(day: Settings) -> None:
    change_warehouse(day, "INSERT INTO hotel_analysis_log SELECT * FROM hotel_analysis_log LIMIT 1")
    results = checks(day, "hotellogs")
    duplicate = one(results, "unique_key", "hotel_analysis_log")
    assert not duplicate.passed and (duplicate.observed, duplicate.expected) == (1, "0")
    assert "(id)" in duplicate.detail
    # The extra row also breaks the reconciliation; nothing else fails.
    assert set(failed(results)) == {
        ("unique_key", "hotel_analysis_log"),
        ("reconcile_warehouse", "hotel_analysis_log"),
    }


def test_a_null_in_a_required_column_fails(day: Settings) -> None:
    change_warehouse(
        day,
        'UPDATE lostark_analysis_log SET "Boss_name" = NULL WHERE "User_account" IN '
        '(SELECT "User_account" FROM lostark_analysis_log LIMIT 1)',
    )
    results = checks(day, "lostarklogs")
    assert failed(results) == [("required_not_null", "lostark_analysis_log")]
    nulls = one(results, "required_not_null")
    assert nulls.observed > 0 and nulls.expected == "0"
    assert nulls.detail == f"nulls in Boss_name {nulls.observed}"


def test_a_null_in_an_optional_column_passes(day: Settings) -> None:
    change_warehouse(day, "UPDATE lol_analysis_log SET inputkey = NULL")
    assert failed(checks(day, "gamelogs")) == []


def earlier_days(settings: Settings, table: str, rows_per_day: dict[int, int]) -> None:
    """Days before DAY (by how many days before) holding the first rows of DAY."""
    for back, rows in rows_per_day.items():
        change_warehouse(
            settings,
            f"INSERT INTO {table} SELECT * REPLACE (CAST(? AS DATE) AS dt) FROM {table} "
            "WHERE dt = ? LIMIT ?",
            [DAY - timedelta(days=back), DAY, rows],
        )


def day_rows(settings: Settings, table: str) -> int:
    with open_warehouse(settings) as warehouse:
        return warehouse.row_count(table, DAY)


def test_a_day_ten_times_the_trailing_mean_is_out_of_its_band(day: Settings) -> None:
    rows = day_rows(day, "ad_analysis_logs")
    # Three earlier days of a tenth of the rows, and one too old to count at all.
    earlier_days(day, "ad_analysis_logs", {1: rows // 10, 2: rows // 10, 4: rows // 10, 30: rows})
    band = one(checks(day, "adlogs"), "row_count_band")
    mean = rows // 10
    assert not band.passed and band.observed == rows
    assert band.expected == f"{mean * 0.5:.0f}..{mean * 1.5:.0f}"
    assert f"mean {mean:.1f} of 3 earlier days" in band.detail


def test_a_day_like_the_days_before_is_in_its_band(day: Settings) -> None:
    rows = day_rows(day, "weblog_access_log")
    earlier_days(day, "weblog_access_log", {1: rows, 3: rows, 7: rows})
    band = one(checks(day, "weblogs"), "row_count_band")
    assert band.passed and band.observed == rows
    assert band.expected == f"{rows * 0.5:.0f}..{rows * 1.5:.0f}"


def test_too_little_history_passes_the_band_saying_so(day: Settings) -> None:
    rows = day_rows(day, "weblog_access_log")
    earlier_days(day, "weblog_access_log", {1: rows * 10, 2: rows * 10})
    band = one(checks(day, "weblogs"), "row_count_band")
    assert band.passed and band.expected == "any"
    assert band.detail.startswith("not enough history: 2 of the 7 days before have rows")


def test_raw_rows_landed_after_the_etl_fail_the_reconciliation(day: Settings) -> None:
    request = {
        "ip": "192.168.0.1",
        "datetime": f"{DAY}T23:00:00.000Z",
        "method": "GET",
        "url": "/late",
        "responseCode": 200,
        "responseTime": 5,
        "sessionID": "late",
    }
    path = f"raw/weblogs/dt={DAY}/{raw_file_name(9, 0, 0, 'zstd')}"
    open_lake(day).publish(path, encode_lines([json.dumps(request).encode()], "zstd"))
    results = checks(day, "weblogs")
    assert set(failed(results)) == {
        ("reconcile_curated", "weblog_access_log"),
        ("reconcile_warehouse", "weblog_access_log"),
    }
    late = one(results, "reconcile_curated")
    assert late.observed == int(late.expected) - 1
    assert "the raw partition changed since the ETL ran" in late.detail
    run_etl(day, "weblogs", DAY)
    assert failed(checks(day, "weblogs")) == []


def test_drops_unknown_to_the_run_log_fail_the_reconciliation(day: Settings) -> None:
    import sqlite3

    with sqlite3.connect(day.paths.state) as conn:
        conn.execute("UPDATE etl_runs SET dropped_rows = NULL WHERE dataset = 'lostarklogs'")
    conn.close()
    results = checks(day, "lostarklogs")
    assert set(failed(results)) == {
        ("reconcile_curated", "lostark_analysis_log"),
        ("reconcile_warehouse", "lostark_analysis_log"),
    }
    assert "rows dropped by room_result unknown" in one(results, "reconcile_curated").detail
    # Datasets that drop nothing need no record of it.
    with sqlite3.connect(day.paths.state) as conn:
        conn.execute("DELETE FROM etl_runs WHERE dataset = 'gamelogs'")
    conn.close()
    assert failed(checks(day, "gamelogs")) == []


def test_an_unloaded_day_fails_without_raising(day: Settings) -> None:
    results = checks(day, "hotellogs", DAY + timedelta(days=1))
    assert ("reconcile_curated", "hotel_analysis_log") in failed(results)
    assert one(results, "reconcile_warehouse").passed  # 0 landed, 0 loaded
    assert one(results, "row_count_band").passed


def declared_day(folder: Path, custom: bool = False) -> Settings:
    extra = 'transform = "shop_checks:by_customer"\n' if custom else ""
    write_dataset(folder, extra)
    (folder / "shop_checks.py").write_text(CUSTOM_TRANSFORM)
    settings = load_settings(home=folder / "home", environ={}, cwd=folder)
    orders = encoded(good_orders(30))
    path = f"raw/orders/dt={DAY}/{raw_file_name(0, 0, len(orders) - 1, 'zstd')}"
    open_lake(settings).publish(path, encode_lines(orders, "zstd"))
    run_etl(settings, "orders", DAY)
    return settings


def test_a_declared_dataset_is_checked_by_its_schema_and_id_field(tmp_path: Path) -> None:
    settings = declared_day(tmp_path)
    results = checks(settings, "orders")
    assert failed(results) == []
    assert one(results, "unique_key").detail == "30 rows, 30 distinct keys (order_id)"
    assert one(results, "required_not_null").detail == "no nulls in 4 required columns"
    change_warehouse(settings, "UPDATE orders SET order_id = 'o1' WHERE order_id = 'o2'")
    assert failed(checks(settings, "orders")) == [("unique_key", "orders")]


def test_a_declared_dataset_with_its_own_transform_reconciles_what_the_etl_parsed(
    tmp_path: Path,
) -> None:
    results = checks(declared_day(tmp_path, custom=True), "orders")
    assert failed(results) == []
    assert [r.check for r in results] == [
        "reconcile_parsed",
        "warehouse_vs_curated",
        "required_not_null",
        "row_count_band",
    ]
    parsed = one(results, "reconcile_parsed")
    assert (parsed.observed, parsed.expected) == (30, "30")
    # Its table keeps only the customer column of the required ones.
    assert (
        "not in the table: order_id, placed_at, total" in one(results, "required_not_null").detail
    )
