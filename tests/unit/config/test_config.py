import os
from pathlib import Path

import pytest

from bdp.config import load_settings
from bdp.errors import ConfigError


def test_no_file_means_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.bus.backend == "local"
    assert settings.etl.engine == "duckdb"
    assert settings.paths.home == (Path.cwd() / ".bdp").absolute()
    assert settings.paths.lake.endswith("lake")


def test_file_then_environment_then_argument(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text(
        'home = "from-file"\n[bus]\npartitions = 8\n[bus.local]\nfsync = "always"\n'
        '[platform]\ntimezone = "Asia/Seoul"\n'
    )
    settings = load_settings(environ={"BDP_BUS__PARTITIONS": "3"}, cwd=tmp_path)
    assert settings.bus.partitions == 3  # environment beats file
    assert settings.bus.local.fsync == "always"
    assert settings.platform.timezone == "Asia/Seoul"
    assert settings.home == Path("from-file")
    assert load_settings(home=tmp_path / "arg", environ={}, cwd=tmp_path).home == tmp_path / "arg"


def test_bdp_home_environment(tmp_path: Path) -> None:
    settings = load_settings(environ={"BDP_HOME": str(tmp_path / "h")}, cwd=tmp_path)
    assert settings.paths.home == tmp_path / "h"


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text("[bus]\npartitons = 2\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'bus.partitons' \(did you mean 'partitions'"
    ):
        load_settings(environ={}, cwd=tmp_path)


def test_unknown_section_from_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'stream'"):
        load_settings(environ={"BDP_STRAEM__BATCH_RECORDS": "5"}, cwd=tmp_path)


def test_invalid_values_are_explained(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text(
        '[platform]\ntimezone = "Mars/Olympus"\n[bus]\npartitions = 0\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, cwd=tmp_path)
    assert "unknown time zone 'Mars/Olympus'" in str(caught.value)
    assert "bus.partitions" in str(caught.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config=tmp_path / "nope.toml", environ={}, cwd=tmp_path)


def test_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text("[bus\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(environ={}, cwd=tmp_path)


def test_every_problem_is_explained_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text("[bus]\npartitons = 2\npartitions = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, cwd=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "'bus.partitons'" in message and "bus.partitions" in message


def test_a_config_file_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings(config=tmp_path / "conf", environ={}, cwd=tmp_path)
    (tmp_path / "bdp.toml").mkdir()  # found, not named
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings(environ={}, cwd=tmp_path)


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_bytes(b'[platform]\ntimezone = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(environ={}, cwd=tmp_path)


@pytest.mark.parametrize("home", ["", "  "])
def test_an_empty_data_home_is_refused(tmp_path: Path, home: str) -> None:
    # Path("") is the working directory: bdp would fill it with its folders.
    with pytest.raises(ConfigError, match="data home is empty"):
        load_settings(home=home, environ={}, cwd=tmp_path)
    (tmp_path / "bdp.toml").write_text(f'home = "{home}"\n')
    with pytest.raises(ConfigError, match="data home is empty"):
        load_settings(environ={}, cwd=tmp_path)


def test_a_data_home_that_is_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for home in (tmp_path / "file", Path(os.devnull)):
        with pytest.raises(ConfigError, match=f"data home {home} is not a directory"):
            load_settings(home=home, environ={}, cwd=tmp_path)


def test_the_hdfs_user_is_hadoops_unless_set(tmp_path: Path) -> None:
    import getpass

    # As Hadoop's own clients (Spark's among them) decide: HADOOP_USER_NAME, else the OS user.
    assert load_settings(environ={}, cwd=tmp_path).lake.hdfs_user == getpass.getuser()
    hadoop = {"HADOOP_USER_NAME": "etl"}
    assert load_settings(environ=hadoop, cwd=tmp_path).lake.hdfs_user == "etl"
    (tmp_path / "bdp.toml").write_text('[lake]\nhdfs_user = "from-file"\n')
    assert load_settings(environ=hadoop, cwd=tmp_path).lake.hdfs_user == "from-file"
    explicit = {**hadoop, "BDP_LAKE__HDFS_USER": "from-env"}
    assert load_settings(environ=explicit, cwd=tmp_path).lake.hdfs_user == "from-env"
    with pytest.raises(ConfigError, match=r"lake\.hdfs_user"):
        load_settings(environ={"BDP_LAKE__HDFS_USER": '""'}, cwd=tmp_path)


def test_maintenance_settings_carry_units_and_defaults(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={}, cwd=tmp_path)
    maintenance = settings.maintenance
    assert (maintenance.compact_after_days, maintenance.lake_retention_days) == (2, None)
    assert maintenance.compact_target_bytes == 128 * 1024 * 1024
    assert maintenance.compact_min_file_bytes < maintenance.compact_target_bytes
    changed = load_settings(
        home=tmp_path, environ={"BDP_MAINTENANCE__LAKE_RETENTION_DAYS": "30"}, cwd=tmp_path
    )
    assert changed.maintenance.lake_retention_days == 30
    (tmp_path / "bdp.toml").write_text("[maintenance]\nlake_retention_day = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'lake_retention_days'"):
        load_settings(environ={}, cwd=tmp_path)
