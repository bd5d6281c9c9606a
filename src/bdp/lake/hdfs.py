"""The lake on HDFS, over WebHDFS (the NameNode's REST API), with the standard library only.

URLs: `hdfs://host:rpc_port/path` (the REST calls go to `host:[lake] webhdfs_port`, the
NameNode's HTTP port) or `webhdfs://host:http_port/path`. `uri()` returns URLs of the same
scheme, for engines with an HDFS client.

Every call names the HDFS user bdp acts as (`user.name`, HDFS's simple authentication;
`[lake] hdfs_user`), so the NameNode checks its permissions and files belong to it.

Publication: a file is written under a hidden temporary name in its target directory
(CREATE: the NameNode redirects to a DataNode, which receives the bytes; the file is
complete and replicated when the DataNode answers), then renamed over the target with
`RENAME&renameoptions=OVERWRITE`. That is the NameNode's rename with overwrite, one
namespace operation: a reader sees the old file or the new one, never neither, so the
stream checkpoint — a file overwritten with `publish` — cannot be lost or go back in
time. (A plain WebHDFS RENAME refuses an existing target; deleting first would leave a
window in which the file is absent.)

`replace_dir` moves the old directory aside, renames the staged one in and deletes the
old one: a reader sees the old partition or the new one, never a mix; a crash between
the two renames leaves the day absent until the ETL re-runs it (as on the local lake).
Names starting with a dot (temporary files, staging and retired directories) are never
listed.

Errors: a server that does not answer (refused, reset, timed out, an answer cut off) or
answers with a 5xx, or a NameNode that asks to be tried again (safe mode, standby), is an
`HdfsUnavailableError`, a `TransientError` that callers retry; any other refusal (4xx:
permissions, bad arguments) is a final `HdfsError`; a missing file is `FileNotFoundError`.
"""

from __future__ import annotations

import contextlib
import getpass
import http.client
import json
import posixpath
import uuid
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from bdp.errors import BdpError, ConfigError, TransientError
from bdp.lake import LAKES
from bdp.lake.base import FileInfo, Lake

__all__ = ["HdfsError", "HdfsLake"]

TEMP_PREFIX = "."
SCHEMES = ("hdfs", "webhdfs")
RETRY_EXCEPTIONS = frozenset({"SafeModeException", "RetriableException", "StandbyException"})
"""Remote exceptions that arrive as a 4xx but mean "not now" rather than "no"."""


class HdfsError(BdpError):
    """WebHDFS refused an operation; carries the HTTP status and the remote exception."""

    def __init__(self, operation: str, path: str, status: int, exception: str, message: str):
        self.operation, self.path, self.status, self.exception = operation, path, status, exception
        self.message = message
        # A DataNode passes the NameNode's refusal on with a Java stack trace below it.
        first_line = next(iter(message.strip().splitlines()), "")
        super().__init__(f"WebHDFS {operation} {path}: HTTP {status} {exception}: {first_line}")


class HdfsUnavailableError(HdfsError, TransientError):
    """The NameNode or DataNode did not answer, failed on its side, or asked to be tried
    again (down, restarting, in safe mode, unreachable)."""


class HdfsLake(Lake):
    capabilities = LAKES.capabilities("hdfs")

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        webhdfs_port: int = 9870,
        timeout_seconds: float = 60,
    ) -> None:
        """`user`: who bdp is on HDFS; None is the OS user."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ConfigError(f"lake url {url!r}: expected hdfs://host:port/path or webhdfs://…")
        self.user = getpass.getuser() if user is None else user
        if not self.user:
            raise ConfigError(f"lake url {url!r}: no HDFS user; set [lake] hdfs_user")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.authority = parts.netloc
        if parts.scheme == "webhdfs":
            self.http_port = parts.port or webhdfs_port
        else:
            self.http_port = webhdfs_port
        self.root = "/" + parts.path.strip("/") if parts.path.strip("/") else ""
        self.timeout_seconds = timeout_seconds
        self.url = f"{self.scheme}://{self.authority}{self.root or '/'}"
        self._mkdirs("")

    # -- paths and HTTP -------------------------------------------------------------

    def _abs(self, path: str) -> str:
        path = path.strip("/")
        return f"{self.root}/{path}" if path else self.root or "/"

    def _request(
        self,
        method: str,
        path: str,
        op: str,
        *,
        body: bytes | None = None,
        host: str | None = None,
        port: int | None = None,
        target: str | None = None,
        **params: Any,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP exchange; `target` (a redirect's path and query) overrides the URL."""
        if target is None:
            query = urlencode(
                {"op": op, "user.name": self.user, **{k: str(v) for k, v in params.items()}}
            )
            target = f"/webhdfs/v1{quote(self._abs(path))}?{query}"
        conn = http.client.HTTPConnection(
            host or self.host, port or self.http_port, timeout=self.timeout_seconds
        )
        try:
            headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            # Refused, reset, timed out, or an answer cut off: the server may be back soon.
            raise HdfsUnavailableError(op, path, 0, type(exc).__name__, str(exc)) from exc
        finally:
            conn.close()

    def _call(
        self, method: str, path: str, op: str, ok: tuple[int, ...] = (200,), **params: Any
    ) -> tuple[int, dict[str, str], bytes]:
        status, headers, data = self._request(method, path, op, **params)
        if status not in ok:
            raise _error(op, path, status, data)
        return status, headers, data

    def _json(self, method: str, path: str, op: str, **params: Any) -> Any:
        return json.loads(self._call(method, path, op, **params)[2])

    def _redirected(
        self, method: str, path: str, op: str, body: bytes | None, **params: Any
    ) -> bytes:
        """Ask the NameNode, then send the request to the DataNode it redirects to."""
        status, headers, data = self._call(method, path, op, ok=(200, 307), **params)
        if status == 200:
            return data
        location = urlsplit(headers["location"])
        status, _, data = self._request(
            method,
            path,
            op,
            body=body,
            host=location.hostname,
            port=location.port,
            target=f"{location.path}?{location.query}",
        )
        if status not in (200, 201):
            raise _error(op, path, status, data)
        return data

    def _status(self, path: str) -> dict[str, Any] | None:
        status, _, data = self._request("GET", path, "GETFILESTATUS")
        if status == 404:
            return None
        if status != 200:
            raise _error("GETFILESTATUS", path, status, data)
        found: dict[str, Any] = json.loads(data)["FileStatus"]
        return found

    def _list(self, path: str) -> list[dict[str, Any]] | None:
        status, _, data = self._request("GET", path, "LISTSTATUS")
        if status == 404:
            return None
        if status != 200:
            raise _error("LISTSTATUS", path, status, data)
        listed: list[dict[str, Any]] = json.loads(data)["FileStatuses"]["FileStatus"]
        return listed

    def _mkdirs(self, path: str) -> None:
        self._json("PUT", path, "MKDIRS")

    def _rename(self, source: str, target: str, overwrite: bool = False) -> None:
        params: dict[str, Any] = {"destination": self._abs(target)}
        if overwrite:
            params["renameoptions"] = "OVERWRITE"
            self._call("PUT", source, "RENAME", **params)
            return
        if not self._json("PUT", source, "RENAME", **params).get("boolean"):
            raise HdfsError("RENAME", source, 200, "RenameFailed", f"could not move to {target}")

    # -- the Lake interface ---------------------------------------------------------

    def publish(self, path: str, data: bytes) -> None:
        directory, name = posixpath.split(path.strip("/"))
        temp = posixpath.join(directory, f"{TEMP_PREFIX}{name}.{uuid.uuid4().hex}.tmp")
        self._redirected("PUT", temp, "CREATE", data, overwrite="false")
        try:
            self._rename(temp, path, overwrite=True)
        except BaseException:
            # The rename's failure is the one to report (and to classify): a temporary
            # file left behind is never listed.
            with contextlib.suppress(HdfsError):
                self.delete(temp)
            raise

    def read(self, path: str) -> bytes:
        try:
            return self._redirected("GET", path, "OPEN", None)
        except HdfsError as exc:
            if exc.status == 404:
                raise FileNotFoundError(path) from exc
            raise

    def exists(self, path: str) -> bool:
        return self._status(path) is not None

    def list_files(self, prefix: str) -> list[FileInfo]:
        prefix = prefix.strip("/")
        found: list[FileInfo] = []
        pending = [prefix]
        while pending:
            directory = pending.pop()
            entries = self._list(directory)
            if entries is None:
                continue
            for entry in entries:
                name = entry["pathSuffix"]
                if not name:  # the prefix is a file: nothing under it
                    break
                if name.startswith(TEMP_PREFIX):
                    continue
                child = f"{directory}/{name}" if directory else name
                if entry["type"] == "DIRECTORY":
                    pending.append(child)
                elif entry["type"] == "FILE":
                    found.append(
                        FileInfo(
                            child, int(entry["length"]), int(entry["modificationTime"]) * 10**6
                        )
                    )
        return sorted(found, key=lambda info: info.path)

    def list_dirs(self, prefix: str) -> list[str]:
        entries = self._list(prefix.strip("/")) or []
        return sorted(
            e["pathSuffix"]
            for e in entries
            if e["type"] == "DIRECTORY" and e["pathSuffix"] and not e["pathSuffix"].startswith(".")
        )

    def delete(self, path: str) -> None:
        self._json("DELETE", path, "DELETE", recursive="true")

    def staging_dir(self, purpose: str) -> str:
        relative = f"_staging/{TEMP_PREFIX}{purpose}-{uuid.uuid4().hex}"
        self._mkdirs(relative)
        return relative

    def replace_dir(self, staged: str, path: str) -> None:
        path = path.strip("/")
        parent, name = posixpath.split(path)
        self._mkdirs(parent)
        # Retired copies left by a crash between the renames of an earlier replace.
        for entry in self._list(parent) or []:
            leftover = entry["pathSuffix"]
            if leftover.startswith(f"{TEMP_PREFIX}{name}.") and leftover.endswith(".old"):
                self.delete(posixpath.join(parent, leftover))
        retired = posixpath.join(parent, f"{TEMP_PREFIX}{name}.{uuid.uuid4().hex}.old")
        moved = self.exists(path)
        if moved:
            self._rename(path, retired)
        self._rename(staged, path)
        if moved:
            self.delete(retired)

    def uri(self, path: str) -> str:
        return f"{self.scheme}://{self.authority}{self._abs(path)}"


def _error(op: str, path: str, status: int, data: bytes) -> HdfsError:
    exception, message = "", data[:500].decode("utf-8", "replace")
    try:
        remote = json.loads(data)["RemoteException"]
        exception, message = remote.get("exception", ""), remote.get("message", "")
    except (ValueError, KeyError, TypeError):
        pass
    # A server-side failure may pass; a refusal (4xx) will not, unless the NameNode
    # itself says to try again (starting up in safe mode, busy, or a standby).
    if status >= 500 or exception.rsplit(".", 1)[-1] in RETRY_EXCEPTIONS:
        return HdfsUnavailableError(op, path, status, exception, message)
    return HdfsError(op, path, status, exception, message)
