"""`bdp airflow export`, run in this process as a user types it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import orjson
import pytest

from bdp.cli.app import main
from bdp.config import load_settings
from bdp.orchestrate import build_dags


def bdp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, list[str]]:
    saved = sys.argv
    sys.argv = ["bdp", *args]
    try:
        with pytest.raises(SystemExit) as exit:
            main()
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return int(exit.value.code or 0), out, err.splitlines()


@pytest.fixture
def fake_bdp(tmp_path: Path) -> Path:
    script = tmp_path / "bin" / "bdp"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


def test_export_prints_a_line_per_file_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bdp: Path
) -> None:
    home, out = tmp_path / "home", tmp_path / "dags"
    code, stdout, stderr = bdp(
        capsys, "--home", str(home), "airflow", "export", "--out", str(out), "--bdp", str(fake_bdp)
    )
    assert (code, stderr) == (0, [])
    dags = build_dags(load_settings(home=home))
    assert stdout.splitlines() == [
        f"wrote {out / f'bdp_{dag_id}.py'} ({dag_id}, {len(dag.tasks)} tasks)"
        for dag_id, dag in dags.items()
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"bdp_{d}.py" for d in dags)


def test_export_json_names_the_files_the_bdp_and_the_start_day_and_the_config_is_absolute(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_bdp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bdp.toml").write_text('[platform]\ntimezone = "Asia/Seoul"\n')
    code, stdout, _ = bdp(
        capsys,
        *("--config", "bdp.toml", "--home", "home", "airflow", "export", "--out", "dags"),
        *("--bdp", str(fake_bdp), "--start-date", "2024-04-09", "--json"),
    )
    assert code == 0
    result = orjson.loads(stdout)
    assert result["bdp"] == str(fake_bdp)
    assert result["start_date"] == "2024-04-09"
    assert result["removed"] == []
    gamelogs = Path(result["files"]["gamelogs"])
    assert gamelogs == tmp_path / "dags" / "bdp_gamelogs.py"
    text = gamelogs.read_text()
    assert "TIMEZONE = 'Asia/Seoul'" in text
    command = shlex.join(
        [str(fake_bdp), "--config", str(tmp_path / "bdp.toml"), "--home", str(tmp_path / "home")]
    )
    assert f"{command} dag task gamelogs etl --date" in text


def test_export_uses_the_bdp_toml_of_the_working_directory_when_there_is_one(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_bdp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ("--home", "home", "airflow", "export", "--out", "dags", "--bdp", str(fake_bdp))
    assert bdp(capsys, *args)[0] == 0
    assert "--config" not in Path("dags/bdp_weblogs.py").read_text()
    Path("bdp.toml").write_text("[scheduler]\nretries = 7\n")
    assert bdp(capsys, *args)[0] == 0
    text = Path("dags/bdp_weblogs.py").read_text()
    assert f"--config {tmp_path / 'bdp.toml'}" in text and "retries=7," in text


def test_a_bdp_that_is_not_executable_is_one_line_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    code, stdout, stderr = bdp(
        capsys,
        *("--home", str(tmp_path / "home"), "airflow", "export"),
        *("--out", str(tmp_path / "dags"), "--bdp", str(missing)),
    )
    assert code == 1 and stdout == ""
    assert len(stderr) == 1 and str(missing) in stderr[0] and "not an executable" in stderr[0]
    assert not (tmp_path / "dags").exists()


def test_a_bad_start_date_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_bdp: Path
) -> None:
    code, _, stderr = bdp(
        capsys,
        *("--home", str(tmp_path / "home"), "airflow", "export", "--out", str(tmp_path / "d")),
        *("--bdp", str(fake_bdp), "--start-date", "04/09/2024"),
    )
    assert code == 2 and "YYYY-MM-DD" in stderr[0]
