"""The Kafka bus's errors, and the one place that turns the client's errors into them.

Every error names what failed and the broker's reason, keeps both as attributes, and
roots in `BdpError`; an unreachable broker is a `TransientError` (worth retrying later)
that names the bootstrap servers; a topic that does not exist is a `NotFoundError`, as
on the embedded bus.
"""

from __future__ import annotations

from typing import Any

from bdp.errors import BdpError, NotFoundError, TransientError

__all__ = [
    "BrokerUnavailableError",
    "BusAuthorizationError",
    "DeliveryError",
    "KafkaBusError",
    "RecordTooLargeError",
    "RefusedDeliveryError",
    "UnknownTopicDeliveryError",
    "bus_error",
    "delivery_error",
    "is_refusal",
    "is_retriable",
    "refusal_error",
]

_UNREACHABLE = {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_RESOLVE", "_WAIT_COORD"}
_UNKNOWN_TOPIC = {"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION"}
_TOO_LARGE = {"MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE", "RECORD_LIST_TOO_LARGE"}
_AUTHORIZATION = {
    "TOPIC_AUTHORIZATION_FAILED",
    "GROUP_AUTHORIZATION_FAILED",
    "CLUSTER_AUTHORIZATION_FAILED",
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
    "SASL_AUTHENTICATION_FAILED",
    "_AUTHENTICATION",
}
_RETRIABLE = _UNREACHABLE | {
    "COORDINATOR_NOT_AVAILABLE",
    "NOT_COORDINATOR",
    "COORDINATOR_LOAD_IN_PROGRESS",
    "REQUEST_TIMED_OUT",
    "NOT_LEADER_OR_FOLLOWER",
    "NOT_LEADER_FOR_PARTITION",
    "UNKNOWN_LEADER_EPOCH",
    "OFFSET_NOT_AVAILABLE",
    "LEADER_NOT_AVAILABLE",
    "NETWORK_EXCEPTION",
    "_WAIT_COORD",
}


class KafkaBusError(BdpError):
    """A Kafka bus operation failed; `code` is the client's error name, `reason` its text."""

    def __init__(self, message: str, code: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.code, self.reason = code, reason


class BrokerUnavailableError(KafkaBusError, TransientError):
    """No broker of `bootstrap_servers` answered in time."""

    def __init__(self, message: str, bootstrap_servers: str, code: str = "", reason: str = ""):
        super().__init__(message, code, reason)
        self.bootstrap_servers = bootstrap_servers


class BusAuthorizationError(KafkaBusError):
    """The broker refused the credentials or the operation."""


class DeliveryError(KafkaBusError):
    """Records were not acknowledged by the broker; `failed` counts them."""

    def __init__(self, message: str, topic: str, failed: int, code: str = "", reason: str = ""):
        super().__init__(message, code, reason)
        self.topic, self.failed = topic, failed


class RefusedDeliveryError(DeliveryError, BusAuthorizationError):
    """The broker refused to take the records from this client (an ACL, say)."""


class RecordTooLargeError(DeliveryError):
    """A record is larger than the producer or the topic accepts."""


class UnknownTopicDeliveryError(DeliveryError, NotFoundError):
    """Records went to a topic the broker does not have (and will not create)."""


def _describe(error: Any) -> tuple[str, str]:
    """The client error's name and text (a KafkaError, or a KafkaException holding one)."""
    args = getattr(error, "args", ())
    inner = args[0] if args and hasattr(args[0], "code") else error
    if hasattr(inner, "name") and callable(inner.name):
        return inner.name(), inner.str()
    return type(error).__name__, str(error)


def is_retriable(error: Any) -> bool:
    """Whether the failure (a client error or its name) is the broker being away or busy,
    which passes by itself."""
    return (error if isinstance(error, str) else _describe(error)[0]) in _RETRIABLE


def is_refusal(error: Any) -> bool:
    """Whether the broker refused the credentials or the operation."""
    return _describe(error)[0] in _AUTHORIZATION


def refusal_error(error: Any, action: str, bootstrap_servers: str) -> BusAuthorizationError:
    """The bdp error for a call that failed because the broker refused the client."""
    code, reason = _describe(error)
    return BusAuthorizationError(
        f"{action}: the broker at {bootstrap_servers} refused this client ({reason}); "
        "check the security settings in bus.kafka.client_options",
        code,
        reason,
    )


def bus_error(error: Any, action: str, bootstrap_servers: str, timeout_s: float) -> BdpError:
    """The bdp error for a failed admin, consumer or commit call."""
    code, reason = _describe(error)
    if code in _UNKNOWN_TOPIC:
        return NotFoundError(f"{action}: the topic does not exist ({reason})")
    if code in _UNREACHABLE:
        return BrokerUnavailableError(
            f"{action}: no Kafka broker answered at {bootstrap_servers} within"
            f" {timeout_s:g} s ({reason}); is it running?",
            bootstrap_servers,
            code,
            reason,
        )
    if code in _AUTHORIZATION:
        return BusAuthorizationError(f"{action}: not authorized ({reason})", code, reason)
    return KafkaBusError(f"{action}: {reason} ({code})", code, reason)


def delivery_error(error: Any, topic: str, failed: int) -> DeliveryError:
    """The bdp error for records the producer could not deliver to `topic`."""
    code, reason = _describe(error)
    what = f"{failed} record(s) to topic {topic!r} were not delivered: {reason} ({code})"
    if code in _TOO_LARGE:
        return RecordTooLargeError(
            what + "; raise bus.kafka.max_message_bytes (and the topic's max.message.bytes)",
            topic,
            failed,
            code,
            reason,
        )
    if code in _UNKNOWN_TOPIC:
        return UnknownTopicDeliveryError(what, topic, failed, code, reason)
    if code in _AUTHORIZATION:
        return RefusedDeliveryError(
            what + "; the broker refused this client: check its ACLs and bus.kafka.client_options",
            topic,
            failed,
            code,
            reason,
        )
    return DeliveryError(what, topic, failed, code, reason)
