"""SASL settings pass through to the real broker, and its refusals are clear and prompt.

The test broker (`stack/kafka`) has a SASL_PLAINTEXT listener with users `bdp-admin` (a
super user) and `alice`, under Kafka's StandardAuthorizer; topics without ACLs are open.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bdp.bus.kafka import BusAuthorizationError, KafkaBus
from bdp.config import BusSettings, KafkaBusSettings, load_settings

SASL_BOOTSTRAP = "127.0.0.1:19094"
WRONG_PASSWORD = "not-alices-password"
TIMEOUT_MS = 5000
PATIENCE_S = TIMEOUT_MS / 1000 + 3
"""A refusal must be reported within the connect timeout, plus a margin."""


def options(user: str, password: str) -> dict[str, str]:
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": user,
        "sasl.password": password,
    }


def as_user(namespace: str, user: str, password: str) -> BusSettings:
    kafka = KafkaBusSettings(
        bootstrap_servers=SASL_BOOTSTRAP,
        client_options=options(user, password),  # type: ignore[arg-type]
        connect_timeout_ms=TIMEOUT_MS,
    )
    return BusSettings(backend="kafka", namespace=namespace, kafka=kafka)


def env_as(namespace: str, user: str, password: str) -> dict[str, str]:
    """The same settings as a user gives them to the CLI: `BDP_*` variables, the client
    options as a TOML inline table."""
    table = ", ".join(f'"{k}" = "{v}"' for k, v in options(user, password).items())
    return {
        "BDP_BUS__BACKEND": "kafka",
        "BDP_BUS__NAMESPACE": namespace,
        "BDP_BUS__KAFKA__BOOTSTRAP_SERVERS": SASL_BOOTSTRAP,
        "BDP_BUS__KAFKA__CLIENT_OPTIONS": "{" + table + "}",
        "BDP_BUS__KAFKA__CONNECT_TIMEOUT_MS": str(TIMEOUT_MS),
    }


def cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`bdp` as a user runs it: this environment (not another `BDP_*`), plus `env`."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    return subprocess.run(
        [sys.executable, "-m", "bdp", "--home", str(home), *args],
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def admin_only_topic(kafka: str, kafka_namespace: str) -> Iterator[str]:
    """A topic only `bdp-admin` may use: one ACL on it closes it to everyone else."""
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    with KafkaBus(BusSettings(namespace=kafka_namespace)) as bus:
        bus.create_topic("hotellogs")
    admin = AdminClient({"bootstrap.servers": kafka})
    physical = f"{kafka_namespace}hotellogs"
    binding = AclBinding(
        ResourceType.TOPIC,
        physical,
        ResourcePatternType.LITERAL,
        "User:bdp-admin",
        "*",
        AclOperation.ALL,
        AclPermissionType.ALLOW,
    )
    for future in admin.create_acls([binding]).values():
        future.result(timeout=30)
    yield "hotellogs"
    remove = AclBindingFilter(
        ResourceType.TOPIC,
        physical,
        ResourcePatternType.LITERAL,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    for future in admin.delete_acls([remove]).values():
        future.result(timeout=30)


@pytest.mark.service("kafka")
def test_sasl_settings_pass_through_to_the_broker(kafka: str, kafka_namespace: str) -> None:
    with KafkaBus(as_user(kafka_namespace, "alice", "alice-secret")) as bus:
        bus.create_topic("weblogs", partitions=1)
        with bus.producer() as producer:
            producer.send_batch("weblogs", [b'{"ok": 1}'], [None])
            producer.flush()
        with bus.consumer("g", "weblogs") as consumer:
            batches = consumer.poll(10, timeout_ms=10_000)
        assert [bytes(v) for b in batches for v in b.values] == [b'{"ok": 1}']


@pytest.mark.service("kafka")
def test_wrong_credentials_are_a_clear_error_within_the_timeout(
    kafka: str, kafka_namespace: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bdp")
    bus = KafkaBus(as_user(kafka_namespace, "alice", WRONG_PASSWORD))
    for call in (bus.topics, lambda: bus.create_topic("weblogs"), bus.producer):
        started = time.monotonic()
        with pytest.raises(BusAuthorizationError, match="refused this client") as caught:
            call()
        assert time.monotonic() - started < PATIENCE_S
        assert "Authentication failed" in str(caught.value)
        assert SASL_BOOTSTRAP in str(caught.value)
        assert WRONG_PASSWORD not in str(caught.value)
    # The password is never shown: not in the settings, nor in the client's log lines.
    assert WRONG_PASSWORD not in repr(bus.settings) + repr(bus.kafka_connection())
    assert "Authentication failed" in caplog.text and WRONG_PASSWORD not in caplog.text
    # As a user meets it: the command fails and says why, it does not hang.
    done = cli(
        tmp_path,
        env_as(kafka_namespace, "alice", WRONG_PASSWORD),
        "simulate",
        "weblogs",
        "--date",
        "2024-04-16",
        "--users",
        "5",
    )
    assert done.returncode != 0
    assert "refused this client" in done.stderr and "Authentication failed" in done.stderr
    assert WRONG_PASSWORD not in done.stderr + done.stdout


@pytest.mark.service("kafka")
def test_a_topic_the_user_may_not_use_is_a_clear_error(
    kafka_namespace: str, admin_only_topic: str, tmp_path: Path
) -> None:
    topic = admin_only_topic
    with KafkaBus(as_user(kafka_namespace, "alice", "alice-secret")) as bus:
        started = time.monotonic()
        with bus.producer() as producer:
            producer.send_batch(topic, [b"{}"], [None])
            with pytest.raises(BusAuthorizationError, match="TOPIC_AUTHORIZATION_FAILED"):
                producer.flush()
        for call in (lambda: bus.end_offsets(topic), lambda: bus.consumer("g", topic)):
            with pytest.raises(BusAuthorizationError, match="not authorized"):
                call()
        assert time.monotonic() - started < 3 * PATIENCE_S
    # The stream job stops with the reason rather than waiting for records it cannot read.
    done = cli(
        tmp_path,
        env_as(kafka_namespace, "alice", "alice-secret"),
        "stream",
        "run",
        "--dataset",
        topic,
        "--until-idle",
    )
    assert done.returncode != 0
    assert "not authorized" in done.stderr
    # The super user still reads it: the ACL, not the broker, refused alice.
    admin = load_settings(
        home=tmp_path, environ=env_as(kafka_namespace, "bdp-admin", "bdp-admin-secret")
    )
    with KafkaBus(admin.bus) as bus:
        assert bus.end_offsets(topic) == {p: 0 for p in range(bus.partitions(topic))}
