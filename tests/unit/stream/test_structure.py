"""The bulk structure checks agree with a plain parser, record by record."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bdp.datasets import DATASETS
from bdp.stream.structure import duplicate_keys, nesting_depth, scan_keys, too_deep

NAMES = st.sampled_from(["a", "b", "ab", "ba", "", 'a"', "\\", "é", "k"])
SEPARATORS = st.sampled_from([":", " :", ": ", "\t:\n"])


def repeated_key(value: bytes) -> str | None:
    found: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        keys = [key for key, _ in items]
        found.extend(key for i, key in enumerate(keys) if key in keys[:i])
        return dict(items)

    json.loads(value, object_pairs_hook=pairs)
    return found[0] if found else None


@st.composite
def objects(draw: st.DrawFn, depth: int = 0) -> str:
    """JSON object text that may repeat keys, at any depth, with any spacing."""
    members = []
    for name in draw(st.lists(NAMES, max_size=4)):
        if depth < 3 and draw(st.booleans()):
            value = draw(objects(depth + 1))
            if draw(st.booleans()):
                value = f"[{value}, 1, {draw(objects(depth + 1))}]"
        else:
            value = json.dumps(draw(st.sampled_from([1, "x", '"{[:', None, "\\", [1, 2]])))
        members.append(json.dumps(name) + draw(SEPARATORS) + value)
    return "{" + ",".join(members) + "}"


@given(st.lists(objects(), min_size=1, max_size=8), st.sampled_from([(), ("a", "b"), ("a", "a")]))
@settings(max_examples=150, deadline=None)
def test_repeated_keys_are_found_exactly(texts: list[str], known: tuple[str, ...]) -> None:
    values = [text.encode() for text in texts]
    expected = {i: repeated_key(v) for i, v in enumerate(values) if repeated_key(v) is not None}
    assert dict(duplicate_keys(values, known)) == expected


@given(st.lists(objects(), min_size=1, max_size=8), st.integers(1, 5))
@settings(max_examples=100, deadline=None)
def test_too_deep_finds_exactly_the_records_over_the_limit(texts: list[str], limit: int) -> None:
    values = [text.encode() for text in texts]
    expected = [(i, nesting_depth(v)) for i, v in enumerate(values) if nesting_depth(v) > limit]
    assert too_deep(values, limit) == expected


def test_nesting_depth_counts_containers_outside_strings() -> None:
    assert nesting_depth(b"{}") == 1
    assert nesting_depth(b'{"a":[{"b":[]}]}') == 4
    assert nesting_depth(b'{"a":"[[[[\\"[[["}') == 1


def test_every_raw_schema_keeps_the_fast_path() -> None:
    # Two names of one schema alike in the fingerprint would send every record of the
    # dataset to the exact (slow) check; no schema does.
    from bdp.stream.structure import _fingerprint_of

    for dataset in DATASETS.values():
        names = set(dataset.keys)
        prints = {_fingerprint_of(json.dumps(name).encode()) for name in names}
        assert len(prints) == len(names), dataset.name


def test_records_with_keys_the_schema_lacks_are_strangers() -> None:
    values = [b'{"a":1,"b":{"a":2}}', b'{"a":1,"x":[[1]]}', b'{"a":1,"b":{"y":{}}}', b'{"a":"\\""}']
    scan = scan_keys(values, ("a", "b", "a"))
    # The last one holds an escaped quote: the fast pass cannot read it, so it is kept.
    assert scan.strangers == [1, 2, 3] and scan.repeated == []
