"""The forward protocol without I/O: decoding every mode, the limits, tag routing, the
records' JSON, keys, ids and event time, and the shared-key handshake."""

from __future__ import annotations

import base64
import gzip
import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgpack
import orjson
import pytest

from bdp.collect.forward.handshake import Handshake, shared_key_digest
from bdp.collect.forward.protocol import (
    EventTime,
    Limits,
    ProtocolError,
    decode_message,
    encode_event_time,
    entry_time_ms,
    gunzip,
    new_unpacker,
)
from bdp.collect.forward.records import TagRouter, record_json, tag_matches, to_collected
from bdp.config import load_settings

LIMITS = Limits(max_message_bytes=1024 * 1024)
TS = 1_700_000_000


def decoded(value: Any) -> Any:
    """What the server's unpacker makes of a value on the wire."""
    unpacker = new_unpacker(LIMITS, 2 * 1024 * 1024)
    unpacker.feed(msgpack.packb(value))
    return decode_message(next(unpacker), LIMITS)


def test_message_mode_with_and_without_option() -> None:
    message = decoded(["app.web", TS, {"a": 1}, {"chunk": "c1"}])
    assert (message.tag, message.entries, message.chunk) == ("app.web", [(TS, {"a": 1})], "c1")
    assert decoded(["app", TS, {"a": 1}]).chunk is None


def test_forward_mode_with_event_time() -> None:
    message = decoded(["t", [[encode_event_time(TS, 999_999_999), {"a": 1}], [TS, {"b": 2}]]])
    assert message.entries[0][0] == EventTime(TS, 999_999_999)
    assert entry_time_ms(message.entries[0][0]) == TS * 1000 + 999
    assert entry_time_ms(TS) == TS * 1000 and entry_time_ms(TS + 0.5) == TS * 1000 + 500


def test_packed_forward_as_binary_and_as_text_with_invalid_utf8() -> None:
    packed = msgpack.packb([TS, {"a": 1}]) + msgpack.packb([TS, {"b": b"\xff\xfe"}])
    assert len(decoded(["t", packed, {"size": 2}]).entries) == 2
    # Older Fluentd sends the entries as a str: bytes that are not valid UTF-8.
    as_text = msgpack.packb(["t", packed], use_bin_type=False)
    unpacker = new_unpacker(LIMITS, 2 * 1024 * 1024)
    unpacker.feed(as_text)
    assert [e[1] for e in decode_message(next(unpacker), LIMITS).entries] == [
        {"a": 1},
        {"b": b"\xff\xfe"},
    ]


def test_compressed_packed_forward_with_several_gzip_members() -> None:
    body = gzip.compress(msgpack.packb([TS, {"a": 1}])) + gzip.compress(
        msgpack.packb([TS, {"a": 2}])
    )
    message = decoded(["t", body, {"compressed": "gzip", "chunk": b"bin-chunk"}])
    assert [record for _, record in message.entries] == [{"a": 1}, {"a": 2}]
    assert message.chunk == b"bin-chunk"


def test_gzip_is_inflated_only_up_to_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)
    with pytest.raises(ProtocolError, match="max_message_bytes"):
        gunzip(bomb, 1024 * 1024)
    with pytest.raises(ProtocolError, match="truncated"):
        gunzip(gzip.compress(b"abc" * 1000)[:-10], 10_000)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("just text", "must be an array"),
        (["t"], "must be an array of 2 to 4"),
        ([1, TS, {}], "tag must be"),
        (["t", TS, "record"], "must be a map"),
        (["t", TS, {}, "option"], "option must be a map"),
        (["t", TS, {}, {"chunk": 5}], "chunk must be"),
        (["t", [[TS]]], "entry must be an array"),
        (["t", [[True, {}]]], "time must be"),
        (["t", b"\x92\xce", {}], "truncated"),
        (["t", b"\xc1", {}], "not valid MessagePack"),
        (["t", b"", {"compressed": "zstd"}], "unknown compression"),
    ],
)
def test_wrong_messages_say_why(value: Any, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decoded(value)


def test_the_unpacker_refuses_declared_sizes_beyond_the_limits() -> None:
    unpacker = new_unpacker(LIMITS, 2 * 1024 * 1024)
    unpacker.feed(b"\xdd" + struct.pack(">I", 100 * 1024 * 1024))
    with pytest.raises(ValueError, match="max_array_len"):
        next(unpacker)
    unpacker = new_unpacker(LIMITS, 64 * 1024)
    with pytest.raises(msgpack.BufferFull):
        unpacker.feed(b"\xc6" + struct.pack(">I", 100 * 1024 * 1024) + b"x" * 128 * 1024)


def test_tag_patterns_follow_fluentd() -> None:
    def match(pattern: str, tag: str) -> bool:
        return tag_matches(pattern.split("."), tag.split("."))

    assert match("a.*", "a.b") and not match("a.*", "a.b.c") and not match("a.*", "a")
    assert match("a.**", "a") and match("a.**", "a.b.c") and not match("a.**", "b.a")
    assert match("*.web", "x.web") and match("**", "any.thing")


def test_tags_route_to_datasets(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={})
    forward = settings.collect.forward.model_copy(
        update={"tags": {"nginx.access": "weblogs", "game.*": "gamelogs"}}
    )
    collect = settings.collect.model_copy(update={"forward": forward})
    router = TagRouter(settings.model_copy(update={"collect": collect}))

    def name(tag: str) -> str | None:
        dataset = router.dataset_for(tag)
        return dataset.name if dataset else None

    assert name("nginx.access") == "weblogs"
    assert name("game.eu") == "gamelogs"
    assert name("adlogs.web-1") == "adlogs"  # the first part names the dataset
    assert name("game.eu.x") is None  # `*` is one part; `game` is no dataset
    assert name("nosuch") is None


def dataset(**fields: Any) -> Any:
    base = {"name": "d", "topic": "d", "key_field": "user.id", "event_time_field": None}
    return SimpleNamespace(**{**base, **fields})


def test_records_are_keyed_identified_by_chunk_and_written_as_json() -> None:
    message = decoded(
        ["d", [[TS, {"user": {"id": "u1"}}], [TS, {"user": {"id": 7}}]], {"chunk": "Q0h"}]
    )
    collected = to_collected(message, dataset(), "forward test")
    assert collected.values == [b'{"user":{"id":"u1"}}', b'{"user":{"id":7}}']
    assert collected.partition_keys == [b"u1", b"7"]
    assert collected.ids == [b"c:Q0h:0", b"c:Q0h:1"]


def test_ids_from_the_id_field_without_a_chunk_and_none_otherwise() -> None:
    message = decoded(["d", [[TS, {"eid": "e-1"}], [TS, {}]]])
    assert to_collected(message, dataset(id_field="eid"), "t").ids == [b"f:e-1", None]
    assert to_collected(message, dataset(), "t").ids is None


def test_a_missing_event_time_is_stamped_from_the_entry() -> None:
    message = decoded(
        ["d", [[encode_event_time(TS, 123_999_999), {}], [TS, {"meta": {"at": "kept"}}]]]
    )
    collected = to_collected(message, dataset(event_time_field="meta.at"), "t")
    assert [orjson.loads(v)["meta"]["at"] for v in collected.values] == [
        "2023-11-14T22:13:20.123Z",
        "kept",
    ]


def test_binary_values_become_text_or_base64() -> None:
    record = {"text": b"caf\xc3\xa9", "raw": b"\xff\x00", "time": EventTime(TS, 0)}
    assert orjson.loads(record_json(record)) == {
        "text": "café",
        "raw": base64.b64encode(b"\xff\x00").decode(),
        "time": "2023-11-14T22:13:20.000Z",
    }
    broken = b"ok\xff".decode("utf-8", "surrogateescape")
    assert orjson.loads(record_json({"s": broken})) == {"s": "ok\ufffd"}


def test_the_handshake_accepts_the_key_and_refuses_others() -> None:
    handshake = Handshake(b"key", "server", nonce=b"n" * 16)
    kind, helo = msgpack.unpackb(handshake.helo())
    assert kind == "HELO" and helo["nonce"] == b"n" * 16
    digest = shared_key_digest(b"salt", b"client", b"n" * 16, b"key")
    pong, refusal = handshake.answer_ping(["PING", "client", "salt", digest, "", ""])
    assert refusal is None
    assert msgpack.unpackb(pong) == [
        "PONG",
        True,
        "",
        "server",
        shared_key_digest(b"salt", b"server", b"n" * 16, b"key"),
    ]
    pong, refusal = handshake.answer_ping(["PING", "client", "salt", "0" * 128, "", ""])
    assert refusal == "shared key mismatch" and msgpack.unpackb(pong)[1] is False
    _, refusal = handshake.answer_ping(["PING", "server", "salt", digest, "", ""])
    assert refusal is not None and "server's own" in refusal
    with pytest.raises(ProtocolError, match="expected PING"):
        handshake.answer_ping(["weblogs", TS, {}])


def test_packed_entries_cut_anywhere_but_between_entries_are_refused() -> None:
    entries = [[TS, {"n": i, "text": "x" * i, "tags": [None, True, 1.5]}] for i in range(4)]
    pieces = [msgpack.packb(entry) for entry in entries]
    packed = b"".join(pieces)
    ends = {sum(len(p) for p in pieces[:k]) for k in range(len(pieces) + 1)}
    for cut in range(len(packed) + 1):
        value = ["t", packed[:cut], {}]
        if cut in ends:
            assert len(decoded(value).entries) == sorted(ends).index(cut)
        else:
            with pytest.raises(ProtocolError, match=r"truncated|not valid"):
                decoded(value)
