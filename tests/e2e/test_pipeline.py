"""The pipeline step by step from the CLI: simulate, stream, etl, query, status, errors."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import as_json

DAY = "2024-04-16"


def test_step_by_step_with_late_data_and_idempotent_reruns(bdp) -> None:
    generated = as_json(bdp("simulate", "weblogs", "--date", DAY, "--users", "40", "--json"))
    assert generated["dataset"] == "weblogs" and generated["generated"] > 0
    topics = as_json(bdp("status", "--json"))["topics"]
    assert topics["weblogs"]["records"] == generated["generated"]
    assert topics["weblogs"]["lag"] == generated["generated"]

    landed = as_json(bdp("stream", "run", "--until-idle", "--json"))
    assert landed["weblogs"]["landed"] == generated["generated"]
    assert landed["weblogs"]["dates"] == {DAY: generated["generated"]}
    status = as_json(bdp("status", "--json"))
    assert status["topics"]["weblogs"]["lag"] == 0
    assert status["lake"]["weblogs"]["raw"] == {DAY: generated["generated"]}

    first = as_json(bdp("etl", "run", "weblogs", "--date", DAY, "--json"))["weblogs"][DAY]
    assert first["raw_rows"] == generated["generated"]
    assert first["tables"]["weblog_access_log"] == generated["generated"]
    snapshot = bdp("query", "SELECT * FROM weblog_url_daily ORDER BY url", "--json").stdout
    again = as_json(bdp("etl", "run", "weblogs", "--date", DAY, "--json"))["weblogs"][DAY]
    assert again["tables"] == first["tables"]
    assert bdp("query", "SELECT * FROM weblog_url_daily ORDER BY url", "--json").stdout == snapshot

    # Late data: more events for the same day arrive after its ETL ran.
    late = as_json(
        bdp(
            "simulate",
            "weblogs",
            "--date",
            DAY,
            "--users",
            "5",
            "--seed",
            "9",
            "--start",
            "18:00",
            "--json",
        )
    )
    bdp("stream", "run", "--until-idle")
    total = generated["generated"] + late["generated"]
    status = as_json(bdp("status", "--json"))
    assert status["lake"]["weblogs"]["raw"] == {DAY: total}
    assert status["stale_days"] == {"weblogs": [DAY]}
    # The day's raw partition changed after its run: --stale finds it and only it.
    rerun = as_json(bdp("etl", "run", "weblogs", "--stale", "--json"))["weblogs"]
    assert list(rerun) == [DAY]
    rerun = rerun[DAY]
    assert rerun["tables"]["weblog_access_log"] == total
    count = as_json(bdp("query", "SELECT count(*) AS n FROM weblog_access_log", "--json"))
    assert count == [{"n": total}]
    assert as_json(bdp("etl", "run", "all", "--stale", "--json")) == {}
    assert as_json(bdp("status", "--json"))["stale_days"] == {}
    runs = as_json(bdp("status", "--json"))["etl_runs"]
    assert len(runs) == 3 and {run["status"] for run in runs} == {"ok"}


def test_legacy_wire_format_flows_through(bdp) -> None:
    generated = as_json(
        bdp(
            "simulate",
            "lostarklogs",
            "--date",
            DAY,
            "--users",
            "16",
            "--legacy-wire-format",
            "--json",
        )
    )
    landed = as_json(bdp("stream", "run", "--until-idle", "--json"))["lostarklogs"]
    assert landed["landed"] == generated["generated"] and landed["quarantined"] == 0
    result = as_json(bdp("etl", "run", "lostarklogs", "--date", DAY, "--json"))["lostarklogs"][DAY]
    assert result["tables"]["lostark_room_results"] == 2


def test_errors_are_clear(bdp, tmp_path) -> None:
    unknown = bdp("simulate", "gamelog", check=False)
    assert unknown.returncode != 0 and "did you mean 'gamelogs'" in unknown.stderr.lower()
    (tmp_path / "bdp.toml").write_text("[bus]\npartitons = 3\n")
    config = bdp("status", check=False)
    assert config.returncode == 2 and "did you mean 'partitions'" in config.stderr
    (tmp_path / "bdp.toml").unlink()
    bad_sql = bdp("query", "SELEC 1", check=False)
    assert bad_sql.returncode == 1 and "error" in bad_sql.stderr.lower()
    bad_date = bdp("etl", "run", "weblogs", "--date", "16/04/2024", check=False)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_a_raw_file_cut_short_is_reported_by_status_and_refused_by_etl(
    bdp, tmp_path, compression: str
) -> None:
    env = {"BDP_LAKE__RAW_COMPRESSION": compression}
    bdp("simulate", "weblogs", "--date", DAY, "--users", "20", env_extra=env)
    bdp("stream", "run", "--until-idle", env_extra=env)
    loaded = as_json(bdp("etl", "run", "weblogs", "--date", DAY, "--json"))["weblogs"][DAY]
    raw = sorted((tmp_path / "home" / "lake" / "raw" / "weblogs" / f"dt={DAY}").iterdir())
    cut = raw[0]
    assert cut.name.endswith(".gz" if compression == "gzip" else ".zst")
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])

    status = bdp("status", check=False)
    assert status.returncode == 1
    [line] = status.stderr.splitlines()  # one line, not "Aborted." nor a traceback
    assert line.startswith(f"damaged: {cut}: has {cut.stat().st_size:,} bytes, but ")
    damaged = as_json(bdp("status", "--json", check=False))["damaged_files"]
    assert [entry["file"] for entry in damaged] == [str(cut)]

    etl = bdp("etl", "run", "weblogs", "--date", DAY, check=False)
    assert etl.returncode == 1
    assert etl.stderr.splitlines() == [f"error: etl weblogs {DAY}: {cut}: {damaged[0]['problem']}"]
    # The day keeps what its last good run loaded.
    count = as_json(bdp("query", "SELECT count(*) AS n FROM weblog_access_log", "--json"))
    assert count == [{"n": loaded["tables"]["weblog_access_log"]}]
