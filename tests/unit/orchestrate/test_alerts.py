"""Alerts reach a real local receiver or command; one that cannot is a problem, not a crash."""

from __future__ import annotations

import base64
import json
import logging
import socket
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bdp.config import AlertSettings, Settings, load_settings
from bdp.orchestrate.alerts import Alert, send_alert, webhook_origin
from tests.scenarios.receiver import Receiver

FAILURE = Alert(
    kind="failure",
    dag_id="gamelogs",
    task_id="etl",
    dt=date(2024, 4, 16),
    try_number=4,
    error="raw partition dt=2024-04-16 is unreadable",
    at=datetime(2024, 4, 17, 0, 31, tzinfo=UTC),
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path, environ={})


def configured(settings: Settings, **alerts: object) -> Settings:
    scheduler = settings.scheduler.model_copy(update={"alerts": AlertSettings(**alerts)})  # type: ignore[arg-type]
    return settings.model_copy(update={"scheduler": scheduler})


def test_the_alert_document(settings: Settings) -> None:
    document = json.loads(FAILURE.as_json())
    assert document == {
        "kind": "failure",
        "dag_id": "gamelogs",
        "task_id": "etl",
        "dt": "2024-04-16",
        "try_number": 4,
        "error": "raw partition dt=2024-04-16 is unreadable",
        "at": "2024-04-17T00:31:00+00:00",
        "text": "bdp: gamelogs.etl for 2024-04-16 failed (try 4): raw partition dt=2024-04-16"
        " is unreadable",
    }


def test_nothing_configured_sends_nothing(settings: Settings) -> None:
    assert send_alert(settings, FAILURE) == []


def test_the_webhook_receives_the_json_document(settings: Settings, receiver: Receiver) -> None:
    assert send_alert(configured(settings, webhook_url=receiver.url), FAILURE) == []
    [(headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == json.loads(FAILURE.as_json())


def test_a_failing_receiver_is_tried_again(settings: Settings, receiver: Receiver) -> None:
    receiver.statuses = [500, 200]
    assert send_alert(configured(settings, webhook_url=receiver.url), FAILURE) == []
    assert len(receiver.requests) == 2


def test_a_receiver_failing_on_is_a_problem_after_three_tries(
    settings: Settings, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bdp.orchestrate.alerts")
    receiver.statuses = [503]
    [problem] = send_alert(configured(settings, webhook_url=receiver.url), FAILURE)
    assert "HTTP 503" in problem and "after 3 tries" in problem
    assert len(receiver.requests) == 3
    assert "alert not sent" in caplog.text


@pytest.mark.parametrize("status", [404, 302])
def test_a_refusal_or_a_redirect_is_not_tried_again(
    settings: Settings, receiver: Receiver, status: int
) -> None:
    receiver.statuses = [status]
    [problem] = send_alert(configured(settings, webhook_url=receiver.url), FAILURE)
    assert f"HTTP {status}" in problem
    assert len(receiver.requests) == 1


def test_a_receiver_that_never_answers_costs_the_timeout_once(
    settings: Settings, receiver: Receiver
) -> None:
    receiver.hang = True
    began = time.monotonic()
    [problem] = send_alert(
        configured(settings, webhook_url=receiver.url, timeout_seconds=0.5), FAILURE
    )
    assert time.monotonic() - began < 5
    assert "no answer within 0.5 s" in problem
    assert len(receiver.requests) == 1  # it may have taken the alert: not sent twice


def test_no_receiver_at_all_is_a_problem(settings: Settings) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}/hook"
    problems = send_alert(configured(settings, webhook_url=closed, timeout_seconds=5), FAILURE)
    assert len(problems) == 1 and "cannot reach it" in problems[0], problems
    assert "after 3 tries" in problems[0]


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_secret_in_the_url_is_never_logged_and_goes_as_basic_auth(
    settings: Settings, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bdp")
    receiver.statuses = [500]
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://alertbot:hunter2%3Ax@127.0.0.1:{port}/services/T0KEN99?token=s3cret77"
    problems = send_alert(configured(settings, webhook_url=url), FAILURE)
    assert problems == [
        f"alert webhook http://127.0.0.1:{port}: HTTP 500 Internal Server Error (after 3 tries)"
    ]
    assert "retry" in caplog.text and "alert not sent" in caplog.text
    for secret in ("alertbot", "hunter2", "T0KEN99", "s3cret77"):
        assert secret not in caplog.text
    headers, _ = receiver.requests[0]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alertbot:hunter2:x").decode()


def test_only_http_webhooks_are_used(settings: Settings, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("nobody may read this")
    [problem] = send_alert(configured(settings, webhook_url=f"file://{secret}"), FAILURE)
    assert "must be an http:// or https:// URL" in problem
    assert str(secret) not in problem


def test_webhook_origin_keeps_scheme_host_and_port_only() -> None:
    assert webhook_origin("https://u:p@hooks.example.com/T/B/X?k=1") == (
        "https://hooks.example.com:443"
    )
    assert webhook_origin("http://[::1]:8080/x") == "http://[::1]:8080"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_command_gets_the_document_and_the_variables(
    settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "alert.json"
    code = (
        "import json, os, sys; data = json.load(sys.stdin);"
        " data['env'] = {k: v for k, v in os.environ.items() if k.startswith('BDP_ALERT_')};"
        f" open({str(out)!r}, 'w').write(json.dumps(data))"
    )
    assert send_alert(configured(settings, command=python(code)), FAILURE) == []
    written = json.loads(out.read_text())
    assert written.pop("env") == {
        "BDP_ALERT_KIND": "failure",
        "BDP_ALERT_DAG": "gamelogs",
        "BDP_ALERT_TASK": "etl",
        "BDP_ALERT_DATE": "2024-04-16",
        "BDP_ALERT_TRY": "4",
        "BDP_ALERT_ERROR": "raw partition dt=2024-04-16 is unreadable",
    }
    assert written == json.loads(FAILURE.as_json())


def test_a_recovery_has_no_error(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "env"
    code = f"import os; open({str(out)!r}, 'w').write(repr(os.environ['BDP_ALERT_ERROR']))"
    recovery = Alert("recovery", "gamelogs", "etl", date(2024, 4, 16), 5, None, FAILURE.at)
    assert send_alert(configured(settings, command=python(code)), recovery) == []
    assert out.read_text() == "''"
    assert json.loads(recovery.as_json())["text"] == (
        "bdp: gamelogs.etl for 2024-04-16 recovered (try 5)"
    )


def test_the_alert_never_passes_through_a_shell(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "argv"
    code = f"import sys, json; open({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))"
    hostile = Alert("failure", "gamelogs", "etl", FAILURE.dt, 1, "$(touch pwned); `id`", FAILURE.at)
    assert send_alert(configured(settings, command=[*python(code), "$HOME", ";ls"]), hostile) == []
    assert json.loads(out.read_text()) == ["$HOME", ";ls"]
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_a_failing_command_is_a_problem(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bdp.orchestrate.alerts")
    code = "import sys; sys.stdin.read(); print('pager service down', file=sys.stderr); sys.exit(3)"
    [problem] = send_alert(configured(settings, command=python(code)), FAILURE)
    assert "exited with 3: pager service down" in problem
    assert "pager service down" in caplog.text


def test_a_missing_command_is_a_problem(settings: Settings, tmp_path: Path) -> None:
    [problem] = send_alert(configured(settings, command=[str(tmp_path / "nope")]), FAILURE)
    assert "cannot start it" in problem


def test_a_hanging_command_is_killed_with_what_it_started(
    settings: Settings, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time;"
        " child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
        f" open({str(pid_file)!r}, 'w').write(str(child.pid));"
        " time.sleep(120)"
    )
    began = time.monotonic()
    [problem] = send_alert(configured(settings, command=python(code), timeout_seconds=1.5), FAILURE)
    assert time.monotonic() - began < 10
    assert "still running after 1.5 s: killed" in problem
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the command's own child outlived the timeout"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_both_ways_are_used_and_one_failing_does_not_stop_the_other(
    settings: Settings, receiver: Receiver
) -> None:
    problems = send_alert(
        configured(settings, webhook_url=receiver.url, command=python("import sys; sys.exit(1)")),
        FAILURE,
    )
    assert len(receiver.requests) == 1
    assert len(problems) == 1 and "exited with 1" in problems[0]
