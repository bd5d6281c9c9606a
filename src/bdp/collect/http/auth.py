"""Who may post to which dataset: bearer tokens per dataset, and where no token is needed.

Tokens are compared in constant time, against every configured token whatever matched
before, so neither the time of an answer nor its order tells a guesser anything. A
dataset without tokens accepts any client only while the collector listens on loopback
alone: there, every client is a program on this machine. Beyond loopback a dataset needs
a token of its own, and `start()` refuses to listen there when no token is configured.
Token text is never logged nor put in an error.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import socket

from pydantic import SecretStr

__all__ = ["Access", "Tokens", "is_loopback"]

_LOOPBACK_NAMES = ("localhost", "localhost.", "ip6-localhost")


class Access(enum.Enum):
    ALLOWED = "allowed"
    UNAUTHENTICATED = "unauthenticated"
    """No token, or one no dataset has (401)."""
    FORBIDDEN = "forbidden"
    """A token of another dataset (403)."""


class Tokens:
    """The configured tokens, checked per request."""

    def __init__(self, tokens: dict[str, list[SecretStr]], loopback_only: bool) -> None:
        self._by_dataset = {
            dataset: [secret.get_secret_value().encode("utf-8") for secret in secrets]
            for dataset, secrets in tokens.items()
            if secrets
        }
        self.loopback_only = loopback_only

    @property
    def configured(self) -> bool:
        return bool(self._by_dataset)

    def needs_token(self, dataset: str) -> bool:
        return dataset in self._by_dataset or not self.loopback_only

    def check(self, dataset: str, authorization: str | None) -> Access:
        if not self.needs_token(dataset):
            return Access.ALLOWED
        presented = _bearer(authorization)
        if presented is None:
            return Access.UNAUTHENTICATED
        for_this, for_another = False, False
        for name, secrets in self._by_dataset.items():
            for secret in secrets:
                if hmac.compare_digest(presented, secret):
                    if name == dataset:
                        for_this = True
                    else:
                        for_another = True
        if for_this:
            return Access.ALLOWED
        return Access.FORBIDDEN if for_another else Access.UNAUTHENTICATED


def _bearer(authorization: str | None) -> bytes | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode("utf-8", "surrogateescape")


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback address."""
    host = host.strip().strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    if not host:
        return False  # every interface
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {info[4][0] for info in found}
    return bool(addresses) and all(
        ipaddress.ip_address(str(address).split("%", 1)[0]).is_loopback for address in addresses
    )
