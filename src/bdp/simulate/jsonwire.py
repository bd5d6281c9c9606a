"""JSON rendering of event columns without a Python call per event.

A dataset describes its document once, as nested `(key, value spec)` pairs. Compiling
that description for a wire style yields a short list of pieces: literal text, lookups
into small pre-rendered tables (indexed by integer columns) and per-row text columns.
Adjacent literals are folded into the tables and adjacent tables are fused (same index:
zipped; small tables: cartesian product), so a 14-field event costs a handful of arrow
`take` calls plus one `binary_join_element_wise` per chunk of rows.

Three styles cover every wire format bdp emits: the corrected one (typed JSON), the
reference's json-simple re-serialisation (every leaf a string, slashes escaped, keys in
Java HashMap order) and the reference's hand-written text (strings, `": "` separators).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "CORRECTED",
    "HAND_WRITTEN",
    "JSON_SIMPLE",
    "Fields",
    "JsonStyle",
    "Lookup",
    "Number",
    "Spec",
    "Template",
    "Text",
    "Verbatim",
    "int_range",
    "java_hashmap_order",
]

FUSE_LIMIT = 4096
"""Largest cartesian-product table built when fusing two lookups: bigger tables cost
more to build than the extra `take` they save."""


@dataclass(frozen=True)
class JsonStyle:
    strings_only: bool = False
    """Every leaf is a JSON string (numbers, booleans and null included)."""
    escape_slashes: bool = False
    """`/` travels as `\\/` (json-simple's escaping)."""
    java_key_order: bool = False
    """Keys come out in Java HashMap iteration order of the original insertion order."""
    key_separator: str = ":"


CORRECTED = JsonStyle()
JSON_SIMPLE = JsonStyle(strings_only=True, escape_slashes=True, java_key_order=True)
HAND_WRITTEN = JsonStyle(strings_only=True, key_separator=": ")


# -- tokens: what a compiled template is made of ------------------------------------


@dataclass(frozen=True)
class _Lit:
    text: str


@dataclass(frozen=True)
class _Tab:
    terms: tuple[tuple[str, int], ...]
    """(column, stride) pairs; the row's table index is sum(column * stride) + offset."""
    offset: int
    texts: pa.Array
    """The rendered table (arrow strings): tables can have one entry per user."""


@dataclass(frozen=True)
class _Col:
    name: str
    render: Callable[[np.ndarray], pa.Array]


_Token = _Lit | _Tab | _Col


# -- value specs: what a dataset writes --------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """A value picked per row from `values` by the integer column `index`."""

    index: str
    values: Sequence[object]
    legacy: Sequence[object] | None = None
    """Values for string-only styles when they differ from `values` (spellings)."""
    offset: int = 0
    """Added to the column to get the table position (for ranges not starting at 0)."""

    def tokens(self, style: JsonStyle) -> list[_Token]:
        source = self.legacy if style.strings_only and self.legacy is not None else self.values
        return [_Tab(((self.index, 1),), self.offset, _render_values(source, style))]


def int_range(column: str, low: int, high: int) -> Lookup:
    """An integer column whose values lie in [low, high], rendered through a table."""
    return Lookup(column, range(low, high + 1), offset=-low)


@dataclass(frozen=True)
class Number:
    """A per-row integer column too wide for a table (sequence numbers)."""

    column: str

    def tokens(self, style: JsonStyle) -> list[_Token]:
        col = _Col(self.column, _int_texts)
        return [_Lit('"'), col, _Lit('"')] if style.strings_only else [col]


@dataclass(frozen=True)
class Text:
    """A per-row string column rendered by `render`; its text must need no escaping."""

    column: str
    render: Callable[[np.ndarray], pa.Array]

    def tokens(self, style: JsonStyle) -> list[_Token]:
        return [_Lit('"'), _Col(self.column, self.render), _Lit('"')]


@dataclass(frozen=True)
class Verbatim:
    """Raw text pieces, concatenated as given (a timestamp built from two tables)."""

    parts: tuple[Lookup | str, ...]

    def tokens(self, style: JsonStyle) -> list[_Token]:
        out: list[_Token] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(_Lit(part))
            else:
                texts = pa.array([str(value) for value in part.values], pa.string())
                out.append(_Tab(((part.index, 1),), part.offset, texts))
        return out


Spec = Lookup | Number | Text | Verbatim
Fields = Sequence[tuple[str, "Spec | Fields"]]


# -- rendering of values ----------------------------------------------------------------

_BULK = 256
"""Tables at least this long (one entry per user) are rendered with arrow kernels."""


def _render_values(values: Sequence[object], style: JsonStyle) -> pa.Array:
    if len(values) >= _BULK:
        kinds = {type(value) for value in values}
        if kinds == {int}:
            texts = pc.cast(pa.array(values, pa.int64()), pa.string())
            return _quoted(texts) if style.strings_only else texts
        if kinds == {str}:
            texts = pa.array(values, pa.string())
            if not pc.any(pc.match_substring_regex(texts, _needs_escape(style))).as_py():
                return _quoted(texts)
    rendered: dict[tuple[type, object], str] = {}  # small tables repeat values
    out = []
    for value in values:
        key = (type(value), value)
        text = rendered.get(key)
        if text is None:
            text = rendered[key] = _render_value(value, style)
        out.append(text)
    return pa.array(out, pa.string())


def _quoted(texts: pa.Array) -> pa.Array:
    quote = pa.scalar('"', pa.string())
    return pc.binary_join_element_wise(quote, texts, quote, "")


def _needs_escape(style: JsonStyle) -> str:
    """RE2 class of the characters `_render_value` would escape."""
    if style.escape_slashes:
        return r'["\\/\x00-\x1f\x7f-\x{9f}\x{2000}-\x{20ff}]'
    return r'["\\\x00-\x1f]'


def _render_value(value: object, style: JsonStyle) -> str:
    if not style.strings_only:
        return msgspec.json.encode(value).decode()
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return '"' + _escape(text, style.escape_slashes) + '"'


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_SHORT_ESCAPES["\t"] = "\\t"


def _escape(text: str, slashes: bool) -> str:
    """json-simple's `JSONValue.escape` (with `slashes`), else minimal JSON escaping."""
    out = []
    for ch in text:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch == "/" and slashes:
            out.append("\\/")
        elif ch < " " or (slashes and ("\x7f" <= ch <= "\x9f" or "\u2000" <= ch <= "\u20ff")):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _int_texts(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def java_hashmap_order(keys: Sequence[str]) -> list[str]:
    """Iteration order of a `java.util.HashMap` filled with `keys` in this order.

    json-simple parses into a default HashMap (16 buckets, resized past 3/4 load), so
    the reference's wire order is bucket order, insertion order within a bucket.
    """
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2

    def bucket(key: str) -> int:
        h = 0
        units = key.encode("utf-16-be")
        for i in range(0, len(units), 2):
            h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)


# -- compiling -------------------------------------------------------------------------


def _field_tokens(fields: Fields, style: JsonStyle) -> list[_Token]:
    order = [key for key, _ in fields]
    if style.java_key_order:
        order = java_hashmap_order(order)
    specs = dict(fields)
    tokens: list[_Token] = [_Lit("{")]
    for i, key in enumerate(order):
        prefix = "," if i else ""
        tokens.append(_Lit(f'{prefix}"{_escape(key, style.escape_slashes)}"{style.key_separator}'))
        spec = specs[key]
        if isinstance(spec, Lookup | Number | Text | Verbatim):
            tokens.extend(spec.tokens(style))
        else:
            tokens.extend(_field_tokens(spec, style))
    tokens.append(_Lit("}"))
    return tokens


def _join(*parts: pa.Array | str) -> pa.Array:
    args = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, "")


def _absorb_literals(tokens: list[_Token]) -> list[_Token]:
    """Fold literal text into a neighbouring table: appended to the one before it, else
    prepended to the one after it; literals between two columns stay."""
    merged: list[_Token] = []
    for tok in tokens:
        last = merged[-1] if merged else None
        if isinstance(tok, _Lit) and isinstance(last, _Lit):
            merged[-1] = _Lit(last.text + tok.text)
        elif isinstance(tok, _Lit) and isinstance(last, _Tab):
            merged[-1] = _Tab(last.terms, last.offset, _join(last.texts, tok.text))
        else:
            merged.append(tok)
    out: list[_Token] = []
    for tok in reversed(merged):
        nxt = out[-1] if out else None
        if isinstance(tok, _Lit) and isinstance(nxt, _Tab):
            out[-1] = _Tab(nxt.terms, nxt.offset, _join(tok.text, nxt.texts))
        else:
            out.append(tok)
    return out[::-1]


def _fuse(a: _Tab, b: _Tab) -> _Tab | None:
    if a.terms == b.terms and a.offset == b.offset:
        return _Tab(a.terms, a.offset, _join(a.texts, b.texts))
    size = len(b.texts)
    if len(a.texts) * size > FUSE_LIMIT:
        return None
    terms = tuple((name, stride * size) for name, stride in a.terms) + b.terms
    left = pc.take(a.texts, pa.array(np.repeat(np.arange(len(a.texts)), size)))
    right = pc.take(b.texts, pa.array(np.tile(np.arange(size), len(a.texts))))
    return _Tab(terms, a.offset * size + b.offset, _join(left, right))


def _fuse_tables(tokens: list[_Token]) -> list[_Token]:
    """Zip neighbours read through the same index first (fields of one entity), then
    build products of small neighbours."""
    for same_index_only in (True, False):
        out: list[_Token] = []
        for tok in tokens:
            last = out[-1] if out else None
            if isinstance(tok, _Tab) and isinstance(last, _Tab):
                same = last.terms == tok.terms and last.offset == tok.offset
                fused = _fuse(last, tok) if same or not same_index_only else None
                if fused is not None:
                    out[-1] = fused
                    continue
            out.append(tok)
        tokens = out
    return tokens


class Template:
    """One document shape compiled for one style; renders rows of columns to JSON."""

    def __init__(self, fields: Fields, style: JsonStyle) -> None:
        tokens = _field_tokens(fields, style)
        self._pieces = _fuse_tables(_absorb_literals(tokens))

    @property
    def piece_count(self) -> int:
        return len(self._pieces)

    def render(self, columns: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
        """One JSON document per row (UTF-8 `bytes`), as an object array."""
        if rows == 0:
            return np.empty(0, dtype=object)
        args: list[pa.Array | pa.Scalar] = []
        for tok in self._pieces:
            if isinstance(tok, _Lit):
                args.append(pa.scalar(tok.text, pa.string()))
            elif isinstance(tok, _Tab):
                args.append(pc.take(tok.texts, pa.array(_table_index(tok, columns))))
            else:
                args.append(tok.render(columns[tok.name]))
        joined = pc.binary_join_element_wise(*args, "")
        # arrow's own conversion makes the bytes objects faster than splitting a buffer
        rendered: np.ndarray = joined.cast(pa.binary()).to_numpy(zero_copy_only=False)
        return rendered


def _table_index(tok: _Tab, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    (name, stride), *rest = tok.terms
    if not rest and stride == 1 and tok.offset == 0:
        return columns[name]
    index = columns[name].astype(np.int32) * np.int32(stride)
    for name, stride in rest:
        index += columns[name].astype(np.int32) * np.int32(stride)
    if tok.offset:
        index += np.int32(tok.offset)
    return index
