"""Bodies into records, and the key fields of records, without a server."""

from __future__ import annotations

import gzip

import pytest
import zstandard

from bdp.collect.http.body import (
    BodyError,
    BodyTooLarge,
    UnsupportedEncoding,
    decompress,
    split_records,
)
from bdp.collect.keys import read_field


def test_shapes_are_read_from_the_body() -> None:
    assert split_records(b' {"a": 1} ', "").values == [b'{"a": 1}']
    assert split_records(b'[{"a":1}, {"b":2}]', "").values == [b'{"a":1}', b'{"b":2}']
    lines = split_records(b'\xef\xbb\xbf{"a":1}\n\n{"b":2}\r\n', "application/json")
    assert (lines.values, lines.lines) == ([b'{"a":1}', b'{"b":2}'], [1, 3])
    assert split_records(b"[]", "").values == []


def test_ndjson_by_its_content_type_even_of_one_line() -> None:
    found = split_records(b'{"a":1}', "application/x-ndjson; charset=utf-8")
    assert (found.values, found.lines) == ([b'{"a":1}'], [1])


def test_gzip_of_several_members_and_zstd_of_several_frames() -> None:
    zipped = gzip.compress(b'{"a":1}\n') + gzip.compress(b'{"b":2}')
    assert decompress(zipped, "gzip", 1000) == b'{"a":1}\n{"b":2}'
    frames = zstandard.ZstdCompressor().compress(b"ab") + zstandard.ZstdCompressor().compress(b"c")
    assert decompress(frames, "zstd", 1000) == b"abc"


@pytest.mark.parametrize(
    ("body", "encoding", "error"),
    [
        (gzip.compress(b"x" * 2000), "gzip", BodyTooLarge),
        (zstandard.ZstdCompressor().compress(b"x" * 2000), "zstd", BodyTooLarge),
        (gzip.compress(b"x" * 100)[:-12], "gzip", BodyError),
        (b"plain", "gzip", BodyError),
        (b"plain", "zstd", BodyError),
        (b"plain", "br", UnsupportedEncoding),
    ],
)
def test_bad_or_bursting_bodies(body: bytes, encoding: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        decompress(body, encoding, 1000)


def test_nested_keys_strings_numbers_and_absences() -> None:
    records = [
        b'{"User": {"account": "a\\u00e9", "x": [1, {}]}}',
        b'{"User": {"account": 12}}',
        b'{"User": {"account": {"b": 1, "a": [1.5]}}}',
        b'{"User": {"account": null}}',
        b'{"User": null}',
        b'{"User": [1, 2]}',
        b'{"Other": 1}',
    ]
    assert read_field(records, "User.account") == [
        "aé".encode(),
        b"12",
        b'{"b":1,"a":[1.5]}',
        None,
        None,
        None,
        None,
    ]
    assert read_field([b'{"sessionID": "s1"}'], "sessionID") == [b"s1"]


def test_ids_come_from_the_key_else_from_the_dataset_id_field() -> None:
    import dataclasses

    from bdp.collect.http.events import _ids
    from bdp.datasets import DATASETS

    web = DATASETS["weblogs"]
    values = [b'{"requestId": "r1"}', b'{"other": 1}', b'{"requestId": 7}']
    assert _ids(web, values, None) is None
    assert _ids(web, values, b"k") == [b"h:k:0", b"h:k:1", b"h:k:2"]
    keyed = dataclasses.replace(web, id_field="requestId")
    assert _ids(keyed, values, None) == [b"f:r1", None, b"f:7"]
    assert _ids(keyed, values, b"k") == [b"h:k:0", b"h:k:1", b"h:k:2"]
    assert _ids(keyed, [b'{"other": 1}'], None) is None
