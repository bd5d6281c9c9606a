"""A JSON Schema becomes a msgspec Struct: every supported keyword, and refusals."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from bdp.datasets.from_jsonschema import MAX_DEPTH, SchemaError, convert_schema


def _schema(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    return {"type": "object", "properties": properties, "required": required or [], **extra}


def _decode(schema: dict, record: bytes) -> Any:
    return msgspec.json.decode(record, type=convert_schema(schema, "t").struct, strict=False)


def test_every_supported_type_becomes_a_typed_column() -> None:
    converted = convert_schema(
        _schema(
            {
                "s": {"type": "string"},
                "t": {"type": "string", "format": "date-time"},
                "d": {"type": "string", "format": "date"},
                "small": {"type": "integer", "minimum": 0, "maximum": 10},
                "big": {"type": "integer"},
                "x": {"type": "number"},
                "b": {"type": "boolean"},
                "o": {"type": "object", "properties": {"inner": {"type": "string"}}},
                "free": {"type": "object"},
                "a": {"type": "array", "items": {"type": "integer"}},
            },
            required=["s"],
        ),
        "t",
    )
    types = {leaf.path: (leaf.sql_type, leaf.required) for leaf in converted.leaves}
    assert types == {
        "s": ("string", True),
        "t": ("timestamp", False),
        "d": ("date", False),
        "small": ("int", False),
        "big": ("bigint", False),
        "x": ("double", False),
        "b": ("boolean", False),
        "o.inner": ("string", False),
        "free": ("json", False),
        "a": ("json", False),
    }
    assert converted.iso_leaves == (("t", "timestamp"), ("d", "date"))
    assert [leaf.column for leaf in converted.leaves][7] == "o_inner"


def test_required_optional_and_nullable_fields() -> None:
    schema = _schema(
        {"a": {"type": "string"}, "b": {"type": ["integer", "null"]}, "c": {"type": "string"}},
        required=["a", "b"],
    )
    record = _decode(schema, b'{"a": "x", "b": null}')
    assert (record.a, record.b, record.c) == ("x", None, None)
    with pytest.raises(msgspec.ValidationError, match="missing required field `b`"):
        _decode(schema, b'{"a": "x"}')
    with pytest.raises(msgspec.ValidationError, match="Expected `str`"):
        _decode(schema, b'{"a": 3, "b": 1}')


def test_a_field_under_an_optional_object_is_not_required_in_every_record() -> None:
    schema = _schema(
        {"o": {"type": "object", "properties": {"k": {"type": "string"}}, "required": ["k"]}}
    )
    [leaf] = convert_schema(schema, "t").leaves
    assert leaf.path == "o.k" and leaf.required is False


def test_constraints_are_enforced() -> None:
    schema = _schema(
        {
            "n": {"type": "integer", "minimum": 1, "exclusiveMaximum": 5},
            "x": {"type": "number", "exclusiveMinimum": 0},
            "s": {"type": "string", "maxLength": 3, "minLength": 1, "pattern": "^[a-z]+$"},
            "e": {"type": "string", "enum": ["red", "blue"]},
            "l": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            "t": {"type": "string", "format": "date-time"},
        }
    )
    assert _decode(schema, b'{"n": 4, "x": 0.1, "s": "abc", "e": "red", "l": ["a"]}').n == 4
    for bad in (
        b'{"n": 5}',
        b'{"n": 0}',
        b'{"x": 0}',
        b'{"s": "abcd"}',
        b'{"s": ""}',
        b'{"s": "AB"}',
        b'{"e": "green"}',
        b'{"l": ["a", "b", "c"]}',
        b'{"t": "16/04/2024"}',
    ):
        with pytest.raises(msgspec.ValidationError):
            _decode(schema, bad)


def test_integers_without_bounds_hold_to_bigint() -> None:
    schema = _schema({"n": {"type": "integer"}})
    assert _decode(schema, b'{"n": 9223372036854775807}').n == 2**63 - 1
    with pytest.raises(msgspec.ValidationError, match="<="):
        _decode(schema, b'{"n": 9223372036854775808}')


def test_arrays_of_objects_are_validated_and_one_json_column() -> None:
    schema = _schema(
        {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}},
                    "required": ["sku"],
                },
            }
        }
    )
    assert [leaf.path for leaf in convert_schema(schema, "t").leaves] == ["items"]
    assert _decode(schema, b'{"items": [{"sku": "a"}]}').items[0].sku == "a"
    with pytest.raises(msgspec.ValidationError, match="sku"):
        _decode(schema, b'{"items": [{"n": 1}]}')


def test_additional_properties_are_allowed_unless_false() -> None:
    open_schema = _schema({"a": {"type": "string"}})
    assert _decode(open_schema, b'{"a": "x", "other": 1}').a == "x"
    closed = _schema({"a": {"type": "string"}}, additionalProperties=False)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        _decode(closed, b'{"a": "x", "other": 1}')


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("$ref", "#/$defs/x"),
        ("oneOf", [{"type": "string"}]),
        ("anyOf", [{"type": "string"}]),
        ("allOf", [{"type": "string"}]),
        ("if", {"type": "string"}),
        ("not", {"type": "integer"}),
        ("const", "x"),
    ],
)
def test_keywords_that_change_meaning_are_refused_naming_keyword_and_pointer(
    keyword: str, value: Any
) -> None:
    schema = _schema({"a": {"type": "string", keyword: value}})
    with pytest.raises(SchemaError, match=re.escape(f"keyword {keyword!r} at /properties/a")):
        convert_schema(schema, "t")


def test_a_keyword_for_another_type_is_refused() -> None:
    with pytest.raises(SchemaError, match="'maxLength' does not apply to type 'integer'"):
        convert_schema(_schema({"n": {"type": "integer", "maxLength": 3}}), "t")


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array", "items": {"type": "string"}}, "root must have type 'object'"),
        ([1, 2], "must be a JSON object"),
        ({"type": "object", "properties": {"a": {"type": 7}}}, "not a valid JSON Schema"),
        (_schema({"a": {"type": "string"}}, required=["b"]), "required property 'b'"),
        (_schema({"a": {}}), "needs a 'type'"),
        (_schema({"a": {"type": ["string", "integer"]}}), "is not one type"),
        (_schema({"a": {"type": "null"}}), "not supported"),
        (_schema({"a-b": {"type": "string"}}), "property name 'a-b'"),
        (_schema({"a": {"type": "string"}, "A": {"type": "string"}}), "differ only by case"),
        (
            _schema(
                {
                    "a_b": {"type": "string"},
                    "a": {"type": "object", "properties": {"b": {"type": "string"}}},
                }
            ),
            "both make column 'a_b'",
        ),
        (_schema({"a": {"type": "array"}}), "needs 'items'"),
        (_schema({"a": {"type": "integer", "minimum": 5, "maximum": 1}}), "no integer"),
        (_schema({"a": {"type": "integer", "maximum": 2**70}}), "64-bit"),
        (_schema({"a": {"type": "string", "enum": ["x", 1]}}), "not a string"),
        (_schema({"a": {"type": "string", "pattern": "("}}), "/properties/a/pattern"),
        (_schema({}), "declares no properties"),
        (
            {
                **_schema({"a": {"type": "string"}}),
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
            "not draft 2020-12",
        ),
    ],
)
def test_bad_schemas_are_refused_in_one_line(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message) as caught:
        convert_schema(schema, "shop")
    assert "\n" not in str(caught.value) and "'shop'" in str(caught.value)


def test_hostile_schemas_end_in_clear_errors() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH + 5):
        deep = {"type": "object", "properties": {"a": deep}}
    with pytest.raises(SchemaError, match="nests deeper"):
        convert_schema(deep, "t")
    huge = _schema({"e": {"type": "string", "enum": [str(i) for i in range(5000)]}})
    with pytest.raises(SchemaError, match="enum has more than"):
        convert_schema(huge, "t")
    wide = _schema({f"f{i}": {"type": "string"} for i in range(2000)})
    with pytest.raises(SchemaError, match="more than 1000 columns"):
        convert_schema(wide, "t")
