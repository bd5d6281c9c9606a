"""`bdp query` as a user runs it: it reads the warehouse and cannot change anything else,
and what it prints (values, errors) reaches the terminal as it is."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import as_json

DAY = "2024-04-16"


def refused(result, *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_query_cannot_write_attach_or_load_anything(bdp, tmp_path: Path) -> None:
    bdp("simulate", "weblogs", "--date", DAY, "--users", "5")
    bdp("stream", "run", "--until-idle")
    loaded = as_json(bdp("etl", "run", "weblogs", "--date", DAY, "--json"))["weblogs"][DAY]
    home = tmp_path / "home"
    state = home / "state.sqlite"
    kept = state.read_bytes()

    refused(bdp("query", f"COPY (SELECT 1) TO '{state}' (FORMAT csv)", check=False), str(state))
    assert state.read_bytes() == kept
    assert as_json(bdp("status", "--json"))["etl_runs"][0]["status"] == "ok"

    # A forged raw file would be taken for late data by the next `etl run --stale`.
    forged = home / "lake" / "raw" / "weblogs" / f"dt={DAY}" / "part-0-900000-999999.jsonl.zst"
    copy = f"COPY (SELECT * FROM weblog_access_log) TO '{forged}' (FORMAT json)"
    refused(bdp("query", copy, check=False), "read only the warehouse's tables")
    assert not forged.exists()
    assert as_json(bdp("etl", "run", "all", "--stale", "--json")) == {}

    other = tmp_path / "other.duckdb"
    other.write_bytes((home / "warehouse.duckdb").read_bytes())
    refused(bdp("query", f"ATTACH '{other}' AS other (READ_WRITE)", check=False), "disabled")
    user = tmp_path / "user"
    user.mkdir()
    for sql in ("INSTALL httpfs", "LOAD httpfs"):
        refused(bdp("query", sql, check=False, env_extra={"HOME": str(user)}), "disabled")
    assert list(user.iterdir()) == []
    refused(bdp("query", "SET enable_external_access = true", check=False), "locked")
    refused(bdp("query", "SELECT * FROM read_csv('/etc/hostname')", check=False), "/etc/hostname")
    refused(bdp("query", "SELECT 1 AS a; SELECT 2 AS b", check=False), "2 SQL statements")

    count = as_json(bdp("query", "SELECT count(*) AS n FROM weblog_access_log", "--json"))
    assert count == [{"n": loaded["raw_rows"]}]


def test_brackets_in_values_and_in_errors_are_printed_as_they_are(bdp) -> None:
    sql = """SELECT '[b]bold?[/b]' AS "[col]", 'pip install ''bdp[kafka]''' AS hint"""
    shown = bdp("query", sql).stdout
    for text in ("[b]bold?[/b]", "[col]", "pip install 'bdp[kafka]'"):
        assert text in shown, shown
    missing = bdp("query", 'SELECT * FROM "[red]t"', check=False)
    assert missing.returncode == 1 and "[red]t" in missing.stderr, missing.stderr
    broken = bdp("query", 'SELECT * FROM "[/]"', check=False)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert "[/]" in broken.stderr.splitlines()[0], broken.stderr
