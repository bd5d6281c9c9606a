"""Log lines: key=value fields, a stderr handler installed once, the level setting."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from bdp.config import load_settings
from bdp.errors import ConfigError
from bdp.logs import RELAYS, ROOT, configure_logging, configured_level, fields


@pytest.fixture
def bdp_logger() -> Iterator[logging.Logger]:
    """The `bdp` logger, as it was before the test."""
    logger = logging.getLogger(ROOT)
    relay = logging.getLogger(RELAYS[0])
    handlers, level, relay_level = list(logger.handlers), logger.level, relay.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)
    relay.setLevel(relay_level)


def test_fields_quote_what_would_break_the_line() -> None:
    line = fields(dataset="weblogs", partition=3, seconds=0.12345, error='a "b" c=d\ne', empty="")
    assert line == ('dataset=weblogs partition=3 seconds=0.123 error="a \\"b\\" c=d\\ne" empty=""')
    assert shlex.split(line.replace("\\n", " "))[3] == 'error=a "b" c=d e'


def test_records_go_to_the_current_stderr_at_the_chosen_level(
    bdp_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("warning")
    configure_logging("INFO")  # again: the level changes, the handler stays one
    assert configured_level() == logging.INFO
    logging.getLogger("bdp.stream").info("batch %s", fields(dataset="weblogs"))
    logging.getLogger("bdp.stream").debug("not shown")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.rstrip().endswith("INFO bdp.stream batch dataset=weblogs")


def test_a_client_library_s_relayed_lines_show_only_at_debug(
    bdp_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    relay = logging.getLogger("bdp.bus.kafka.client")
    configure_logging("WARNING")
    relay.error("FAIL [bdp#producer-1]: Connect to ipv4#127.0.0.1:1 failed")
    assert capsys.readouterr().err == ""
    configure_logging("DEBUG")
    relay.error("FAIL [bdp#producer-1]: Connect to ipv4#127.0.0.1:1 failed")
    assert "ERROR bdp.bus.kafka.client FAIL" in capsys.readouterr().err


def test_nothing_is_configured_until_asked(bdp_logger: logging.Logger) -> None:
    bdp_logger.handlers[:] = [
        h for h in bdp_logger.handlers if type(h).__name__ != "_StderrHandler"
    ]
    assert configured_level() is None


def test_the_level_setting_accepts_any_case_and_refuses_unknown_levels(tmp_path: Path) -> None:
    settings = load_settings(environ={"BDP_PLATFORM__LOG_LEVEL": "info"}, cwd=tmp_path)
    assert settings.platform.log_level == "INFO"
    assert load_settings(environ={}, cwd=tmp_path).platform.log_level is None
    with pytest.raises(ConfigError, match=r"platform\.log_level"):
        load_settings(environ={"BDP_PLATFORM__LOG_LEVEL": "chatty"}, cwd=tmp_path)
