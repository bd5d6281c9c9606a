"""Telling people that a task failed for good, or that it works again.

`send_alert(settings, alert)` delivers one `Alert` the ways `[scheduler.alerts]` asks:

- `webhook_url`: an HTTP POST of the alert's JSON document (`Content-Type:
  application/json`). Its `text` field reads as a sentence, so chat webhooks that show
  `text` (Slack, Mattermost) show it as is. A try that fails in a way another may not
  (no connection, a 5xx or 429 answer) is repeated twice, shortly after; the webhook has
  `timeout_seconds` in all, and a try that used it up is not repeated (the receiver may
  have taken the alert: better one alert than two). Redirects are not followed.
  Credentials in the URL (`https://user:password@host/...`) are sent as basic
  authentication. Logs and problems name the webhook by `scheme://host:port` only:
  its path or query often is the secret (`/services/T0/B0/XXXX`, `?token=`).
- `command`: the argv run without a shell, the JSON document on its standard input and
  `BDP_ALERT_KIND`, `_DAG`, `_TASK`, `_DATE`, `_TRY`, `_ERROR` in its environment.
  Exiting other than 0 is a problem; one still running after `timeout_seconds` is
  killed with what it started.

An alert that cannot be delivered must never stop the scheduler: `send_alert` returns
the problems (and logs each as a warning on `bdp.orchestrate.alerts`), never raises.
It blocks for up to about twice `timeout_seconds` when both ways are set.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson

from bdp.config import AlertSettings, Settings
from bdp.errors import BdpError, TransientError
from bdp.logs import fields
from bdp.retry import Backoff, RetriesExhausted, Retry

__all__ = ["LOG", "Alert", "AlertKind", "send_alert", "webhook_origin"]

LOG = logging.getLogger("bdp.orchestrate.alerts")

AlertKind = Literal["failure", "recovery"]

WEBHOOK_BACKOFF = Backoff(attempts=3, base_delay_seconds=0.5, max_delay_seconds=2.0)
"""A failed POST is tried twice more, after about 0.5 s and 1 s."""
ENV_ERROR_CHARS = 4000
"""The error as `BDP_ALERT_ERROR` is cut to this: environment strings have a size limit
(the JSON on standard input carries all of it)."""
_STDERR_CHARS = 300


@dataclass(frozen=True)
class Alert:
    """One task's final failure, or its first success after failing."""

    kind: AlertKind
    dag_id: str
    task_id: str
    dt: date
    """The data day of the run."""
    try_number: int
    error: str | None
    """What the failing try raised (one line); None for a recovery."""
    at: datetime
    """When it happened (aware)."""

    @property
    def text(self) -> str:
        """The alert as one sentence for people."""
        task = f"{self.dag_id}.{self.task_id} for {self.dt.isoformat()}"
        if self.kind == "recovery":
            return f"bdp: {task} recovered (try {self.try_number})"
        return f"bdp: {task} failed (try {self.try_number}): {self.error or 'no error given'}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "dt": self.dt.isoformat(),
            "try_number": self.try_number,
            "error": self.error,
            "at": self.at.isoformat(),
            "text": self.text,
        }

    def as_json(self) -> str:
        return orjson.dumps(self.as_dict()).decode()


def send_alert(settings: Settings, alert: Alert) -> list[str]:
    """Deliver `alert` by webhook and by command, as configured; the problems met, each
    one line (also logged as warnings). Never raises."""
    config = settings.scheduler.alerts
    problems: list[str] = []
    if config.webhook_url:
        problems += _deliver("webhook", _post, config, alert)
    if config.command:
        problems += _deliver("command", _run, config, alert)
    return problems


def webhook_origin(url: str) -> str:
    """`scheme://host:port` of a URL: what may be shown of a webhook that may hold a
    secret in its user part, path or query."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
        host = parts.hostname or "?"
    except ValueError:
        return "(unreadable URL)"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower() or '?'}://{host}:{port or '?'}"


class _AlertError(BdpError):
    """An alert not delivered one way; the message says how it failed, without secrets."""


class _TransientAlertError(_AlertError, TransientError):
    """A try that another may fix (no connection, the receiver busy or failing)."""


def _deliver(
    way: str, send: Callable[[AlertSettings, Alert], None], config: AlertSettings, alert: Alert
) -> list[str]:
    target = webhook_origin(config.webhook_url) if way == "webhook" else config.command[0]
    about = {
        "kind": alert.kind,
        "dag": alert.dag_id,
        "task": alert.task_id,
        "dt": alert.dt.isoformat(),
        "via": way,
        "target": target,
    }
    began = time.monotonic()
    try:
        send(config, alert)
    except Exception as exc:  # whatever went wrong, the scheduler goes on
        problem = f"alert {way} {target}: {_reason(exc)}"
        LOG.warning("alert not sent %s", fields(**about, problem=_reason(exc)))
        return [problem]
    LOG.info("alert sent %s", fields(**about, seconds=time.monotonic() - began))
    return []


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RetriesExhausted):
        return f"{exc.last} (after {exc.attempts} tries)"
    if isinstance(exc, _AlertError):
        return str(exc)
    # Not one of ours: its type says more than a message that may be empty.
    return f"{type(exc).__name__}: {exc}"


# -- webhook ---------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx one: not followed (it would turn
    the POST into a GET, or send the alert where nobody configured)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post(config: AlertSettings, alert: Alert) -> None:
    url = config.webhook_url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _AlertError("webhook_url must be an http:// or https:// URL")
    headers = {"Content-Type": "application/json", "User-Agent": "bdp-alerts"}
    if parts.username is not None:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        url = urlunsplit(parts._replace(netloc=netloc))
    body = alert.as_json().encode()
    opener = urllib.request.build_opener(_NoRedirect)
    deadline = time.monotonic() + config.timeout_seconds

    def post_once() -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _AlertError(f"no answer within {config.timeout_seconds:g} s")
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with opener.open(request, timeout=left) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            message = f"HTTP {exc.code} {exc.reason}"
            if exc.code >= 500 or exc.code == 429:
                raise _TransientAlertError(message) from None
            raise _AlertError(message) from None
        except TimeoutError:
            raise _AlertError(f"no answer within {config.timeout_seconds:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _AlertError(f"no answer within {config.timeout_seconds:g} s") from None
            raise _TransientAlertError(f"cannot reach it: {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:
            # A connection dropped before the answer came, or a garbled answer.
            raise _TransientAlertError(f"connection failed: {exc}") from None

    what = f"alert webhook {webhook_origin(config.webhook_url)}"
    Retry(WEBHOOK_BACKOFF, log=LOG).call(what, post_once)


# -- command ---------------------------------------------------------------------------


def _run(config: AlertSettings, alert: Alert) -> None:
    env = {
        **os.environ,
        "BDP_ALERT_KIND": alert.kind,
        "BDP_ALERT_DAG": alert.dag_id,
        "BDP_ALERT_TASK": alert.task_id,
        "BDP_ALERT_DATE": alert.dt.isoformat(),
        "BDP_ALERT_TRY": str(alert.try_number),
        "BDP_ALERT_ERROR": _env_text(alert.error or ""),
    }
    try:
        # A session of its own: on timeout the whole group goes, not only the first
        # process (a script's own children would live on, holding the pipe).
        process = subprocess.Popen(
            config.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise _AlertError(f"cannot start it: {exc.strerror or exc}") from None
    with process:
        try:
            _, stderr = process.communicate(alert.as_json().encode(), config.timeout_seconds)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise _AlertError(f"still running after {config.timeout_seconds:g} s: killed") from None
    if process.returncode != 0:
        last = (stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
        said = f": {last[:_STDERR_CHARS]}" if last else ""
        raise _AlertError(f"exited with {process.returncode}{said}")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # gone already
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _env_text(text: str) -> str:
    """`text` as an environment value: no NUL (which no environment can hold), cut short."""
    text = text.replace("\x00", "")
    return text if len(text) <= ENV_ERROR_CHARS else text[: ENV_ERROR_CHARS - 1] + "…"
