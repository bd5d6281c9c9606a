"""The mysql warehouse's type mapping and load text, without a server."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from bdp.warehouse.mysql import _broader, _ddl_of
from bdp.warehouse.mysql_types import (
    UnstorableValueError,
    UnsupportedTypeError,
    column_type,
    string_width,
    tsv_lines,
)


@pytest.mark.parametrize(
    ("kind", "ddl"),
    [
        (pa.int8(), "TINYINT"),
        (pa.int32(), "INT"),
        (pa.uint64(), "BIGINT UNSIGNED"),
        (pa.float32(), "FLOAT"),
        (pa.float64(), "DOUBLE"),
        (pa.bool_(), "BOOLEAN"),
        (pa.decimal128(12, 3), "DECIMAL(12,3)"),
        (pa.string(), "VARCHAR(255)"),
        (pa.dictionary(pa.int32(), pa.string()), "VARCHAR(255)"),
        (pa.binary(), "LONGBLOB"),
        (pa.date32(), "DATE"),
        (pa.timestamp("ns", tz="Asia/Seoul"), "DATETIME(6)"),
        (pa.time64("us"), "TIME(6)"),
        (pa.list_(pa.int64()), "JSON"),
        (pa.struct([("a", pa.int64())]), "JSON"),
    ],
)
def test_each_arrow_type_has_its_column(kind: pa.DataType, ddl: str) -> None:
    assert column_type(kind).ddl == ddl


def test_decimals_wider_than_mysql_are_refused() -> None:
    with pytest.raises(UnsupportedTypeError, match="DECIMAL"):
        column_type(pa.decimal256(70, 2))


def test_strings_take_the_narrowest_text_type_that_holds_them() -> None:
    assert string_width(pa.array(["a" * 255])) == "VARCHAR(255)"
    assert string_width(pa.array(["é" * 255])) == "VARCHAR(255)"  # characters, not bytes
    assert string_width(pa.array(["a" * 256])) == "TEXT"
    assert string_width(pa.array(["a" * 70_000])) == "MEDIUMTEXT"
    assert string_width(pa.array([None], pa.string())) == "VARCHAR(255)"


def test_load_text_escapes_what_load_data_reads_specially() -> None:
    batch = pa.record_batch(
        {
            "s": pa.array(["tab\there", "back\\slash", "\\N", None, "new\nline\r\x00"]),
            "n": pa.array([1, None, 3, 4, 5], pa.int64()),
        }
    )
    assert tsv_lines(batch).split(b"\n")[:-1] == [
        b"tab\\there\t1",
        b"back\\\\slash\t\\N",
        b"\\\\N\t3",
        b"\\N\t4",
        b"new\\nline\\r\\0\t5",
    ]


def test_load_text_spells_values_as_mysql_reads_them() -> None:
    moment = dt.datetime(2024, 4, 16, 1, 2, 3, 456789, tzinfo=dt.UTC)
    batch = pa.record_batch(
        {
            "at": pa.array([moment], pa.timestamp("ns", tz="Asia/Seoul")),
            "flag": pa.array([True]),
            "dec": pa.array([decimal.Decimal("1.50")], pa.decimal128(5, 2)),
            "nested": pa.array([{"a": [1, 2]}]),
            "day": pa.array([dt.date(2024, 4, 16)]),
        }
    )
    assert tsv_lines(batch) == (b'2024-04-16 01:02:03.456789\t1\t1.50\t{"a":[1,2]}\t2024-04-16\n')


def test_nan_is_refused() -> None:
    with pytest.raises(UnstorableValueError, match="'ratio'"):
        tsv_lines(pa.record_batch({"ratio": pa.array([1.0, float("inf")])}))


@pytest.mark.parametrize(
    ("table", "files", "broader"),
    [
        ("INT", "INT", "INT"),
        ("BIGINT", "INT", "BIGINT"),
        ("INT", "BIGINT", "BIGINT"),
        ("VARCHAR(255)", "TEXT", "TEXT"),
        ("LONGTEXT", "VARCHAR(255)", "LONGTEXT"),
        ("FLOAT", "DOUBLE", "DOUBLE"),
        ("INT", "VARCHAR(255)", None),
        ("BIGINT UNSIGNED", "BIGINT", None),
        ("DATE", "DATETIME(6)", None),
    ],
)
def test_only_lossless_widening_is_a_compatible_change(
    table: str, files: str, broader: str | None
) -> None:
    assert _broader(table, files) == broader


def test_server_column_types_read_back_as_bdp_spells_them() -> None:
    assert _ddl_of("int(11)") == "INT"
    assert _ddl_of("bigint(20) unsigned") == "BIGINT UNSIGNED"
    assert _ddl_of("tinyint(1)") == "BOOLEAN"
    assert _ddl_of("decimal(12,3)") == "DECIMAL(12,3)"
    assert _ddl_of("varchar(255)") == "VARCHAR(255)"
