"""The forward protocol's shared-key handshake (HELO, PING, PONG), without I/O.

With `[collect.forward] shared_key` set, the server opens every connection with HELO
and a fresh nonce; the client proves it knows the key with PING (a salted SHA-512 of
salt, its hostname, the nonce and the key), and the server answers PONG with its own
digest, so the client knows the server holds the key too. Nothing else is read from a
connection before that. User/password authentication (HELO's `auth`) is not offered.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

from bdp.collect.forward.protocol import ProtocolError, pack

__all__ = ["Handshake", "shared_key_digest"]


def shared_key_digest(salt: bytes, hostname: bytes, nonce: bytes, shared_key: bytes) -> str:
    return hashlib.sha512(salt + hostname + nonce + shared_key).hexdigest()


@dataclass
class Handshake:
    """One connection's handshake state: `helo()` to send, then `answer_ping(ping)`."""

    shared_key: bytes
    server_hostname: str
    nonce: bytes = field(default_factory=lambda: os.urandom(16))

    def helo(self) -> bytes:
        return pack(["HELO", {"nonce": self.nonce, "auth": "", "keepalive": True}])

    def answer_ping(self, ping: object) -> tuple[bytes, str | None]:
        """The PONG to send, and why the client was refused (None once it passed).

        A PING that is not even shaped like one raises ProtocolError."""
        if not isinstance(ping, list) or len(ping) != 6 or ping[0] != "PING":
            raise ProtocolError("expected PING after HELO (the shared-key handshake)")
        _, hostname, salt, digest = ping[:4]
        if not all(isinstance(part, str | bytes) for part in (hostname, salt, digest)):
            raise ProtocolError("a PING's hostname, salt and digest must be text")
        hostname_bytes, salt_bytes = _raw(hostname), _raw(salt)
        expected = shared_key_digest(salt_bytes, hostname_bytes, self.nonce, self.shared_key)
        server = self.server_hostname.encode()
        if hostname_bytes == server:
            return self._pong(False, "same hostname between client and server"), (
                f"client hostname {hostname!r} is the server's own"
            )
        if not hmac.compare_digest(_raw(digest), expected.encode()):
            return self._pong(False, "shared key mismatch"), "shared key mismatch"
        own = shared_key_digest(salt_bytes, server, self.nonce, self.shared_key)
        return self._pong(True, "", own), None

    def _pong(self, ok: bool, reason: str, digest: str = "") -> bytes:
        return pack(["PONG", ok, reason, self.server_hostname, digest])


def _raw(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
