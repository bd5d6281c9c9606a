"""How curated Arrow columns become MySQL / MariaDB columns, and their values TSV text.

The mapping (README, "The MySQL warehouse"):

| Arrow                         | MySQL / MariaDB                                        |
|-------------------------------|--------------------------------------------------------|
| int8/16/32/64, uint8…uint64   | TINYINT / SMALLINT / INT / BIGINT (UNSIGNED for uint)  |
| float32, float64              | FLOAT, DOUBLE (NaN and ±Infinity are refused)          |
| bool                          | BOOLEAN (TINYINT(1): 1 or 0)                           |
| decimal128(p, s), p ≤ 65      | DECIMAL(p, s)                                          |
| string                        | VARCHAR(255) when every value fits, else TEXT,         |
|                               | MEDIUMTEXT, LONGTEXT (widened as longer values come)   |
| binary                        | LONGBLOB                                               |
| date32/64                     | DATE                                                   |
| timestamp (any unit, any zone)| DATETIME(6), the instant in UTC (nanoseconds cut)      |
| time32/64                     | TIME(6)                                                |
| list, struct, map             | JSON                                                   |
| `dt` (the day)                | DATE NOT NULL, the LIST partitioning column            |

Strings are stored with a binary, no-pad collation (`utf8mb4_nopad_bin` on MariaDB,
`utf8mb4_0900_bin` on MySQL): `'a'`, `'A'` and `'a '` stay three values, as they are
in the lake and in DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "STRING_WIDTHS",
    "ColumnType",
    "UnstorableValueError",
    "UnsupportedTypeError",
    "column_type",
    "string_width",
    "tsv_lines",
    "widest",
]

# Text types from narrowest to widest, each with the most bytes a value may hold
# (VARCHAR(255) holds 255 characters: up to 1020 bytes of utf8mb4).
STRING_WIDTHS: tuple[tuple[str, int], ...] = (
    ("VARCHAR(255)", 255),
    ("TEXT", 65_535),
    ("MEDIUMTEXT", 16_777_215),
    ("LONGTEXT", 4_294_967_295),
)

_INTEGERS = {8: "TINYINT", 16: "SMALLINT", 32: "INT", 64: "BIGINT"}


class UnsupportedTypeError(ValueError):
    """An Arrow type with no MySQL column type."""


class UnstorableValueError(ValueError):
    """A value its MySQL column cannot hold."""


@dataclass(frozen=True)
class ColumnType:
    """A column's MySQL type as DDL, and the family it may widen within."""

    ddl: str

    @property
    def family(self) -> str:
        """Types within one family convert into each other losslessly when widening."""
        for name, _ in STRING_WIDTHS:
            if self.ddl == name:
                return "text"
        return self.ddl


def column_type(kind: pa.DataType, width: str = "VARCHAR(255)") -> ColumnType:
    """The MySQL column for Arrow type `kind`; strings take `width` (see `string_width`)."""
    if pa.types.is_dictionary(kind):
        return column_type(kind.value_type, width)
    if pa.types.is_boolean(kind):
        return ColumnType("BOOLEAN")
    if pa.types.is_integer(kind):
        name = _INTEGERS[kind.bit_width]
        return ColumnType(f"{name} UNSIGNED" if pa.types.is_unsigned_integer(kind) else name)
    if pa.types.is_float16(kind) or pa.types.is_float32(kind):
        return ColumnType("FLOAT")
    if pa.types.is_float64(kind):
        return ColumnType("DOUBLE")
    if pa.types.is_decimal(kind):
        if kind.precision > 65 or kind.scale > 30:
            raise UnsupportedTypeError(f"{kind} is wider than MySQL's DECIMAL(65, 30)")
        return ColumnType(f"DECIMAL({kind.precision},{kind.scale})")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return ColumnType(width)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return ColumnType("LONGBLOB")
    if pa.types.is_fixed_size_binary(kind):
        return ColumnType("LONGBLOB")
    if pa.types.is_date(kind):
        return ColumnType("DATE")
    if pa.types.is_timestamp(kind):
        return ColumnType("DATETIME(6)")
    if pa.types.is_time(kind):
        return ColumnType("TIME(6)")
    if pa.types.is_null(kind):
        return ColumnType(width)
    if pa.types.is_nested(kind):
        return ColumnType("JSON")
    raise UnsupportedTypeError(f"no MySQL column type for Arrow type {kind}")


def string_width(values: pa.ChunkedArray | pa.Array) -> str:
    """The narrowest text type that holds every value of a string column."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if values.null_count == len(values):
        return STRING_WIDTHS[0][0]
    characters = pc.max(pc.utf8_length(values)).as_py() or 0
    if characters <= STRING_WIDTHS[0][1]:
        return STRING_WIDTHS[0][0]
    size = pc.max(pc.binary_length(values)).as_py() or 0
    for name, most in STRING_WIDTHS[1:]:
        if size <= most:
            return name
    return STRING_WIDTHS[-1][0]


def widest(widths: Iterable[str]) -> str:
    """The widest of some text types."""
    order = [name for name, _ in STRING_WIDTHS]
    return max(widths, key=order.index, default=order[0])


# Characters LOAD DATA reads specially (with ESCAPED BY '\\'), and how they are written.
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0"))
_NULL = "\\N"


_SPECIAL = "[\\\\\t\n\r\x00]"


def _escaped(values: pa.Array) -> pa.Array:
    # Most columns hold no special character: one scan, instead of one per character.
    if not pc.any(pc.match_substring_regex(values, _SPECIAL)).as_py():
        return values
    for plain, escaped in _ESCAPES:
        values = pc.replace_substring(values, plain, escaped)
    return values


def _text(column: pa.Array, name: str) -> pa.Array:
    """One column as the text LOAD DATA reads back as the same value; nulls as `\\N`."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _text(column.cast(kind.value_type), name)
    if pa.types.is_boolean(kind):
        text = pc.if_else(column, "1", "0")
    elif pa.types.is_floating(kind):
        finite = pc.is_finite(column)
        if not pc.all(pc.or_kleene(finite, pc.is_null(column))).as_py():
            raise UnstorableValueError(
                f"column {name!r} holds NaN or Infinity, which MySQL cannot store"
            )
        text = pc.cast(column, pa.string())
    elif pa.types.is_timestamp(kind):
        # Dropping the zone keeps the instant's UTC wall time; a cast to text is many
        # times faster than strftime and spells it as MySQL reads it.
        unit = "us" if kind.unit == "ns" else kind.unit
        text = pc.cast(column, pa.timestamp(unit), safe=False).cast(pa.string())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _escaped(column.cast(pa.string()))
    elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        text = _escaped(column.cast(pa.binary()))
    elif pa.types.is_nested(kind):
        text = _escaped(
            pa.array(
                [None if v is None else orjson.dumps(v).decode() for v in column.to_pylist()],
                pa.string(),
            )
        )
    elif pa.types.is_null(kind):
        return pa.array([_NULL] * len(column), pa.string())
    else:
        text = pc.cast(column, pa.string())
    return pc.fill_null(text.cast(pa.binary()), _NULL.encode())


def tsv_lines(batch: pa.RecordBatch) -> bytes:
    """The batch as LOAD DATA text: tab-separated fields, one line per row, backslash
    escapes, `\\N` for NULL."""
    if batch.num_rows == 0:
        return b""
    fields = [
        _text(column, name) for column, name in zip(batch.columns, batch.schema.names, strict=True)
    ]
    ends = pa.array([b"\n"] * batch.num_rows, pa.binary())
    lines = pc.binary_join_element_wise(*fields, b"\t") if len(fields) > 1 else fields[0]
    lines = pc.binary_join_element_wise(lines, ends, b"")
    lines = lines.cast(pa.large_binary()) if len(lines) else lines
    offsets, data = lines.buffers()[1], lines.buffers()[2]
    start, end = _ends(offsets, lines)
    return data.to_pybytes()[start:end] if data is not None else b""


def _ends(offsets: pa.Buffer, lines: pa.Array) -> tuple[int, int]:
    """The byte range of the array's values in its data buffer."""
    import numpy as np

    positions = np.frombuffer(offsets, dtype=np.int64)
    return int(positions[lines.offset]), int(positions[lines.offset + len(lines)])
