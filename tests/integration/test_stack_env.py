"""`stack/<service> env`: what a user evals in a shell to point bdp at a local server."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from bdp.config import load_settings
from bdp.lake import open_lake

STACK = Path(__file__).resolve().parents[2] / "stack"
SERVICES = ("kafka", "hdfs", "airflow", "mariadb")
# What `env` may set besides bdp's own settings: the Hadoop user, Airflow's CLI's, and
# the `mysql` client's.
OTHER_SETTINGS = ("HADOOP_USER_NAME=", "AIRFLOW_HOME=", "AIRFLOW__", "MYSQL_")
# Commands a launcher has beyond the five every one has.
EXTRA_COMMANDS = {"mariadb": "|client [ARGS...]"}
DAY = "2024-04-16"


def bdp_in_shell(home: Path, *args: str, evals: tuple[str, ...], then: dict[str, str]) -> dict:
    """In a shell, as a user types it: `eval "$(stack/<service> env)"` for each of `evals`,
    then `export` each of `then`, then `bdp --home HOME ARGS --json`."""
    lines = [f'eval "$({shlex.quote(str(STACK / service))} env)"' for service in evals]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in then.items()]
    lines.append("exec " + shlex.join([sys.executable, "-m", "bdp", "--home", str(home), *args]))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BDP_", "HADOOP_"))}
    result = subprocess.run(
        ["bash", "-e", "-c", "\n".join(lines)],
        env=clean,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return orjson.loads(result.stdout)


@pytest.mark.parametrize("service", SERVICES)
def test_the_usage_line_lists_every_command(service: str) -> None:
    result = subprocess.run([STACK / service, "nonsense"], capture_output=True, text=True)
    assert result.returncode == 2
    expected = "start|stop|status|reset|env" + EXTRA_COMMANDS.get(service, "")
    assert result.stderr.strip().endswith(expected)


@pytest.mark.parametrize("service", SERVICES)
def test_env_prints_only_export_lines_of_bdp_settings(service: str) -> None:
    printed = subprocess.run([STACK / service, "env"], capture_output=True, text=True, check=True)
    lines = printed.stdout.splitlines()
    assert lines and printed.stderr == ""
    for line in lines:
        export, setting = shlex.split(line)
        assert export == "export" and setting.startswith(("BDP_", *OTHER_SETTINGS)), line


@pytest.mark.service("kafka")
def test_bdp_status_after_eval_of_stack_kafka_env_sees_the_brokers_topics(
    tmp_path: Path, kafka_namespace: str
) -> None:
    from bdp.bus.kafka import KafkaBus

    settings = load_settings(
        environ={"BDP_BUS__BACKEND": "kafka", "BDP_BUS__NAMESPACE": kafka_namespace}
    )
    with KafkaBus(settings.bus) as bus, bus.producer() as producer:
        bus.create_topic("weblogs")
        producer.send_batch("weblogs", [b"{}"] * 7)
        producer.flush()
    home, mine = tmp_path / "home", {"BDP_BUS__NAMESPACE": kafka_namespace}
    # Without the eval, bdp uses its embedded bus, where there is nothing.
    assert bdp_in_shell(home, "status", "--json", evals=(), then=mine)["topics"] == {}
    status = bdp_in_shell(home, "status", "--json", evals=("kafka",), then=mine)
    assert status["topics"]["weblogs"]["records"] == 7


@pytest.mark.service("hdfs")
def test_bdp_lands_into_hdfs_as_the_stacks_lake_user_after_eval_of_stack_hdfs_env(
    tmp_path: Path, hdfs_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    # A lake of this test's own under the stack's root; the rest comes from the eval.
    mine = {"BDP_LAKE__URL": hdfs_env["BDP_LAKE__URL"]}

    def bdp(*args: str) -> dict:
        return bdp_in_shell(home, *args, "--json", evals=("hdfs",), then=mine)

    generated = bdp("simulate", "weblogs", "--date", DAY, "--users", "20")["generated"]
    bdp("stream", "run", "--until-idle")
    assert bdp("status")["lake"]["weblogs"]["raw"] == {DAY: generated}
    lake = open_lake(load_settings(environ=hdfs_env))
    landed = lake.list_files("raw/weblogs")
    root = urlsplit(lake.url).path
    owners = {owner(f"{root}/{info.path}") for info in landed}
    assert landed and owners == {hdfs_env["BDP_LAKE__HDFS_USER"]}


def owner(path: str) -> str:
    url = f"http://127.0.0.1:9870/webhdfs/v1{path}?op=GETFILESTATUS"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return orjson.loads(resp.read())["FileStatus"]["owner"]


@pytest.mark.service("airflow")
def test_airflow_after_eval_of_stack_airflow_env_reads_its_home_and_dags_folder(
    airflow_env: dict[str, str],
) -> None:
    script = 'eval "$(stack/airflow env)"\n"$BDP_AIRFLOW" config get-value core dags_folder'
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BDP_"))}
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=STACK.parent,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Airflow may log before the value: the value is the last line.
    assert result.stdout.splitlines()[-1] == airflow_env["AIRFLOW__CORE__DAGS_FOLDER"]
    assert Path(airflow_env["AIRFLOW_HOME"], "airflow.db").is_file()
