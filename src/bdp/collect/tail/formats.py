"""Turning one line of a tailed file into the record that goes on the bus.

No line is dropped here: a line that is not what its format expects still becomes a
record, and the stream job quarantines it with its reason when the dataset's schema
refuses it. Two formats:

- `json`: the line is one JSON object and goes on byte for byte (without its newline
  and a trailing `\\r`); it is not parsed, re-serialised or checked here.
- `combined`: the nginx/Apache combined log format (the common format, without the
  referer and user agent, is accepted too), parsed into a JSON object:

  | field | from | example |
  |---|---|---|
  | `remote_addr` | client address | `"203.0.113.9"` |
  | `remote_user` | authenticated user, null for `-` | `"frank"` |
  | `time_local` | the bracketed time, as written | `"10/Oct/2000:13:55:36 -0700"` |
  | `time` | the same moment in UTC, ISO-8601 | `"2000-10-10T20:55:36.000Z"` |
  | `request` | the quoted request line | `"GET /a.gif HTTP/1.0"` |
  | `method`, `path`, `protocol` | its three parts, null when it has not three | `"GET"` |
  | `status` | integer | `200` |
  | `body_bytes_sent` | integer, 0 for `-` | `2326` |
  | `http_referer` | null for `-` or absent | `"http://example.com/"` |
  | `http_user_agent` | null for `-` or absent | `"Mozilla/4.08"` |

  A line that does not parse becomes `{"message": <the line>, "parse_error": <why>}`,
  so its content reaches the quarantine rather than vanishing. A dataset fed by this
  format declares `time` as its event time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import msgspec

from bdp.datasets import format_timestamp

__all__ = ["FORMATS", "combined_record", "json_record"]

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_COMBINED = re.compile(
    r"(?P<remote_addr>\S+) \S+ (?P<remote_user>\S+) \[(?P<time_local>[^\]]+)\] "
    rf"{_QUOTED} (?P<status>\d{{3}}) (?P<body_bytes_sent>\d+|-)"
    rf"(?: {_QUOTED} {_QUOTED})?(?:\s.*)?"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_TIME_LOCAL = re.compile(
    r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)
_ESCAPED = re.compile(rb"\\x([0-9A-Fa-f]{2})")
_encode = msgspec.json.Encoder().encode


def json_record(line: bytes) -> bytes:
    """The line itself: the stream job checks it is a JSON object of the schema."""
    return line


def combined_record(line: bytes) -> bytes:
    """The line parsed as a combined-format access log entry, as a JSON object."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _unparsed(
            line.decode("utf-8", "backslashreplace"), f"not UTF-8 text (byte {exc.start})"
        )
    match = _COMBINED.fullmatch(text)
    if match is None:
        return _unparsed(text, "not in the combined log format")
    remote_addr, remote_user, time_local, request, status, sent, referer, agent = match.groups()
    moment = _utc_time(time_local)
    if moment is None:
        return _unparsed(text, f"unreadable time {time_local!r}")
    parts = request.split(" ")
    method, path, protocol = parts if len(parts) == 3 else (None, None, None)
    return _encode(
        {
            "remote_addr": remote_addr,
            "remote_user": _or_null(remote_user),
            "time_local": time_local,
            "time": moment,
            "request": _unescape(request),
            "method": method,
            "path": None if path is None else _unescape(path),
            "protocol": protocol,
            "status": int(status),
            "body_bytes_sent": 0 if sent == "-" else int(sent),
            "http_referer": _or_null(None if referer is None else _unescape(referer)),
            "http_user_agent": _or_null(None if agent is None else _unescape(agent)),
        }
    )


FORMATS: dict[str, Callable[[bytes], bytes]] = {
    "json": json_record,
    "combined": combined_record,
}


def _utc_time(time_local: str) -> str | None:
    parts = _TIME_LOCAL.fullmatch(time_local)
    if parts is None:
        return None
    day, month_name, year, hour, minute, second, sign, off_h, off_m = parts.groups()
    month = _MONTHS.get(month_name)
    if month is None:
        return None
    offset = dt.timedelta(hours=int(off_h), minutes=int(off_m))
    try:
        zone = dt.timezone(-offset if sign == "-" else offset)
        moment = dt.datetime(
            int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError:  # 31 February, hour 25, an offset of a day or more
        return None
    return format_timestamp(int(moment.timestamp()) * 1000)


def _unescape(value: str) -> str:
    """nginx escapes `"` and `\\` in logged strings as `\\x22` and `\\x5C`; undo that."""
    if "\\x" not in value:
        return value
    # The escaped bytes may be parts of one UTF-8 character: rebuild the bytes first.
    raw = _ESCAPED.sub(lambda m: bytes([int(m.group(1), 16)]), value.encode("utf-8"))
    return raw.decode("utf-8", "replace")


def _or_null(value: str | None) -> str | None:
    return None if value in (None, "-") else value


def _unparsed(line: str, reason: str) -> bytes:
    return _encode({"message": line, "parse_error": reason})
