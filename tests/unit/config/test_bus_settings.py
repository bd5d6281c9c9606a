"""`[bus]` and each backend's own table (`[bus.local]`, `[bus.kafka]`); secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from bdp.bus.kafka.config import KafkaConnection, admin_config
from bdp.config import load_settings
from bdp.errors import ConfigError

PASSWORD = "s3cr3t-pa55word"


def test_each_backend_has_a_table_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text(
        '[bus]\nbackend = "kafka"\npartitions = 6\n'
        '[bus.local]\nfsync = "always"\n'
        '[bus.kafka]\nbootstrap_servers = "broker:9092"\nacks = 1\n'
    )
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.bus.backend == "kafka" and settings.bus.partitions == 6
    assert settings.bus.local.fsync == "always"
    assert settings.bus.kafka.bootstrap_servers == "broker:9092"
    assert settings.bus.kafka.acks == 1


def test_environment_reaches_a_backend_table(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text('[bus.kafka]\nbootstrap_servers = "from-file:1"\n')
    environ = {
        "BDP_BUS__KAFKA__BOOTSTRAP_SERVERS": "from-env:2",
        "BDP_BUS__LOCAL__FSYNC_INTERVAL_MS": "50",
        "BDP_BUS__KAFKA__CLIENT_OPTIONS": '{"sasl.mechanism" = "PLAIN"}',
    }
    settings = load_settings(environ=environ, cwd=tmp_path)
    assert settings.bus.kafka.bootstrap_servers == "from-env:2"
    assert settings.bus.local.fsync_interval_ms == 50
    assert settings.bus.kafka.client_options["sasl.mechanism"].get_secret_value() == "PLAIN"


def test_unknown_key_in_a_backend_table_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'bus.kafka.bootstrap_server' \(did you mean 'bootstrap_servers'",
    ):
        load_settings(environ={"BDP_BUS__KAFKA__BOOTSTRAP_SERVER": "h:1"}, cwd=tmp_path)


def test_a_key_of_a_backend_written_in_bus_says_where_it_lives(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text('[bus]\nbootstrap_servers = "broker:9092"\n')
    with pytest.raises(ConfigError, match=r"'bootstrap_servers' moved to \[bus.kafka\]"):
        load_settings(environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"'fsync' moved to \[bus.local\]"):
        load_settings(environ={"BDP_BUS__FSYNC": "never"}, cwd=tmp_path / "none")


def test_environment_cannot_make_a_table_of_a_value(tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text('[bus]\nbackend = "kafka"\n')
    with pytest.raises(ConfigError, match=r"BDP_BUS__BACKEND__X: 'bus.backend' is not a section"):
        load_settings(environ={"BDP_BUS__BACKEND__X": "1"}, cwd=tmp_path)


def write_password(tmp_path: Path) -> None:
    """A `bdp.toml` with SASL credentials, as a user writes them."""
    (tmp_path / "bdp.toml").write_text(
        '[bus]\nbackend = "kafka"\n[bus.kafka]\n'
        f'client_options = {{ "sasl.username" = "alice", "sasl.password" = "{PASSWORD}" }}\n'
    )


def test_client_options_are_never_shown(tmp_path: Path) -> None:
    write_password(tmp_path)
    settings = load_settings(environ={}, cwd=tmp_path)
    connection = KafkaConnection.of(settings.bus)
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump(mode="json")),
        repr(connection),
    ):
        assert PASSWORD not in shown
        assert "sasl.password" in shown or "client_options" in shown


def test_client_options_are_revealed_to_the_client_only(tmp_path: Path) -> None:
    write_password(tmp_path)
    settings = load_settings(environ={}, cwd=tmp_path)
    assert KafkaConnection.of(settings.bus).client_config()["sasl.password"] == PASSWORD
    assert admin_config(settings.bus.kafka, on_error=None)["sasl.password"] == PASSWORD


def test_an_invalid_configuration_does_not_echo_the_password(tmp_path: Path) -> None:
    write_password(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"BDP_BUS__KAFKA__ACKS": "2"}, cwd=tmp_path)
    assert "bus.kafka.acks" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    # A value of the wrong type is named, never printed.
    with pytest.raises(ConfigError, match=r"bus.kafka.client_options.sasl.password") as caught:
        # Environment values are TOML: unquoted digits are a number, not a string.
        environ = {"BDP_BUS__KAFKA__CLIENT_OPTIONS__SASL.PASSWORD": "12345"}
        load_settings(environ=environ, cwd=tmp_path)
    assert "12345" not in str(caught.value)
