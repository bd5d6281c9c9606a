"""A JSON Schema document turned into the msgspec Struct a dataset validates records with.

Users declare a dataset's record in JSON Schema (draft 2020-12) because it is the
language their producers already speak; bdp checks records with msgspec, which is fast
enough for the stream job. So the schema is translated once into a Struct, and only
the part of JSON Schema that translates exactly is accepted: a keyword that would change
what a record may hold (`$ref`, `oneOf`, `if`, ...) and that bdp cannot enforce is
refused, naming it and where it is, never silently ignored. Annotations (`title`,
`description`, `examples`, `x-...`) are allowed and do nothing.

Each scalar leaf outside arrays is a column of the curated table, named by its dotted
path with `.` replaced by `_`; arrays and property-less objects are one column of JSON
text. What each becomes is listed in `Leaf.sql_type`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from bdp.datasets.base import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    ISO_DATE,
    ISO_TIMESTAMP,
    Leaf,
)
from bdp.errors import ConfigError

__all__ = [
    "DRAFT_2020_12",
    "MAX_DEPTH",
    "MAX_ENUM_VALUES",
    "MAX_LEAVES",
    "Converted",
    "Leaf",
    "SchemaError",
    "convert_schema",
]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
MAX_DEPTH = 16
"""Deepest nesting of objects and arrays a schema may declare: below the stream job's
own record limit (`stream.max_nesting_depth`, 32 by default)."""
MAX_LEAVES = 1000
"""Most columns a dataset may have."""
MAX_ENUM_VALUES = 1000
PROPERTY_NAME = re.compile(r"^(?!__)[A-Za-z_][A-Za-z0-9_]{0,62}$")
"""Property names are column names on every engine and warehouse: letters, digits, `_`."""

_ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "examples", "default", "deprecated", "readOnly",
     "writeOnly"}
)  # fmt: skip
_ROOT_ONLY = frozenset({"$schema", "$id"})
_BY_TYPE: dict[str, frozenset[str]] = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "minItems", "maxItems"}),
    "string": frozenset({"format", "enum", "minLength", "maxLength", "pattern"}),
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "boolean": frozenset(),
}
_EVERY_TYPED = frozenset().union(*_BY_TYPE.values())
_SQL_TYPES = {"string": "string", "number": "double", "boolean": "boolean"}


class SchemaError(ConfigError):
    """A dataset's JSON Schema is invalid or uses what bdp does not support."""


@dataclass(frozen=True)
class Converted:
    struct: type[msgspec.Struct]
    leaves: tuple[Leaf, ...]
    iso_leaves: tuple[tuple[str, str], ...]
    """Time and date leaves the stream job holds to real values, as `Dataset.iso_leaves`."""


def convert_schema(document: Any, name: str) -> Converted:
    """The Struct and columns of the records `document` declares; `name` names the
    dataset in errors and the Struct."""
    _check_against_metaschema(document, name)
    if document.get("type") != "object":
        raise SchemaError(f"dataset {name!r}: the schema's root must have type 'object'")
    unknown = set(document) - _ROOT_ONLY - _ANNOTATIONS - _BY_TYPE["object"] - {"type"}
    if unknown:
        _refuse(name, "", sorted(unknown)[0])
    if document.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise SchemaError(
            f"dataset {name!r}: $schema {document['$schema']!r} is not draft 2020-12"
            f" ({DRAFT_2020_12})"
        )
    converter = _Converter(name)
    struct = converter.object_type(document, "", "", 1, name="Record", in_array=False)
    if not converter.leaves:
        raise SchemaError(f"dataset {name!r}: the schema declares no properties")
    _check_columns(name, converter.leaves)
    assert isinstance(struct, type) and issubclass(struct, msgspec.Struct)
    return Converted(struct, tuple(converter.leaves), tuple(converter.iso_leaves))


def _check_against_metaschema(document: Any, name: str) -> None:
    import jsonschema

    if not isinstance(document, dict):
        raise SchemaError(f"dataset {name!r}: the schema must be a JSON object")
    try:
        jsonschema.Draft202012Validator.check_schema(document)
    except jsonschema.SchemaError as exc:
        pointer = "/" + "/".join(str(part) for part in exc.absolute_path)
        raise SchemaError(
            f"dataset {name!r}: not a valid JSON Schema at {pointer}: {exc.message}"
        ) from None


def _refuse(name: str, pointer: str, keyword_name: str) -> None:
    raise SchemaError(
        f"dataset {name!r}: keyword {keyword_name!r} at {pointer or '/'} is not supported"
        " (bdp supports type, properties, required, additionalProperties, items, format,"
        " enum, minimum, maximum, minLength, maxLength, pattern, minItems, maxItems)"
    )


class _Converter:
    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.leaves: list[Leaf] = []
        self.iso_leaves: list[tuple[str, str]] = []
        self._structs = 0

    def fail(self, pointer: str, problem: str) -> SchemaError:
        return SchemaError(f"dataset {self.dataset!r}: {problem} at {pointer or '/'}")

    def node_type(
        self, node: Any, pointer: str, path: str, depth: int, required: bool, in_array: bool
    ) -> tuple[Any, bool]:
        """The Python type of the values `node` allows, and whether null is one."""
        if not isinstance(node, dict):
            raise self.fail(pointer, "a property's schema must be an object")
        kind, nullable = self._kind(node, pointer)
        allowed = _ANNOTATIONS | _BY_TYPE[kind] | {"type"}
        for key in node:
            if key not in allowed and not key.startswith("x-"):
                if key in _EVERY_TYPED:
                    raise self.fail(pointer, f"keyword {key!r} does not apply to type {kind!r}")
                _refuse(self.dataset, pointer, key)
        if kind == "object":
            if "properties" not in node:
                self._leaf(path, "json", required, in_array)
                return dict[str, Any], nullable
            struct = self.object_type(node, pointer, path, depth, path, in_array, required)
            return struct, nullable
        if kind == "array":
            return self._array_type(node, pointer, path, depth, required, in_array), nullable
        if kind == "string":
            return self._string_type(node, pointer, path, required, in_array), nullable
        if kind in ("integer", "number"):
            return self._number_type(node, pointer, path, kind, required, in_array), nullable
        self._leaf(path, "boolean", required, in_array)
        return bool, nullable

    def _kind(self, node: dict[str, Any], pointer: str) -> tuple[str, bool]:
        kind = node.get("type")
        if kind is None:
            raise self.fail(pointer, "every property needs a 'type'")
        nullable = False
        if isinstance(kind, list):
            others = [k for k in kind if k != "null"]
            nullable = len(others) < len(kind)
            if len(others) != 1:
                raise self.fail(pointer, f"type {kind!r} is not one type (with 'null' or not)")
            kind = others[0]
        if kind not in _BY_TYPE:
            raise self.fail(pointer, f"type {kind!r} is not supported")
        return str(kind), nullable

    def object_type(
        self,
        node: dict[str, Any],
        pointer: str,
        path: str,
        depth: int,
        name: str,
        in_array: bool,
        present: bool = True,
    ) -> Any:
        """A Struct of the object's properties; `present`: the object is in every record,
        so its required properties are too."""
        if depth > MAX_DEPTH:
            raise self.fail(pointer, f"the schema nests deeper than {MAX_DEPTH} levels")
        properties: dict[str, Any] = node.get("properties", {})
        required = set(node.get("required", []))
        missing = sorted(required - set(properties))
        if missing:
            raise self.fail(pointer, f"required property {missing[0]!r} is not declared")
        lowered: dict[str, str] = {}
        fields: list[tuple[Any, ...]] = []
        for prop, sub in properties.items():
            if not PROPERTY_NAME.match(prop):
                raise self.fail(
                    f"{pointer}/properties/{prop}",
                    f"property name {prop!r} is not letters, digits and _ (at most 63)",
                )
            if prop.lower() in lowered:
                raise self.fail(
                    f"{pointer}/properties/{prop}",
                    f"properties {lowered[prop.lower()]!r} and {prop!r} differ only by case",
                )
            lowered[prop.lower()] = prop
            child_path = f"{path}.{prop}" if path else prop
            kind, nullable = self.node_type(
                sub,
                f"{pointer}/properties/{prop}",
                child_path,
                depth + 1,
                present and prop in required,
                in_array,
            )
            if prop in required:
                fields.append((prop, kind | None if nullable else kind))
            else:
                fields.append((prop, kind | None, None))
        if isinstance(node.get("additionalProperties"), dict):
            raise self.fail(pointer, "additionalProperties must be true or false")
        self._structs += 1
        struct = msgspec.defstruct(
            _struct_name(self.dataset, name, self._structs),
            fields,
            kw_only=True,
            forbid_unknown_fields=node.get("additionalProperties", True) is False,
        )
        return struct

    def _array_type(
        self,
        node: dict[str, Any],
        pointer: str,
        path: str,
        depth: int,
        required: bool,
        in_array: bool,
    ) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(pointer, f"the schema nests deeper than {MAX_DEPTH} levels")
        if "items" not in node or not isinstance(node["items"], dict):
            raise self.fail(pointer, "an array needs 'items', one schema for every element")
        self._leaf(path, "json", required, in_array)
        item, nullable = self.node_type(
            node["items"], f"{pointer}/items", path, depth + 1, False, in_array=True
        )
        element = item | None if nullable else item
        bounds = msgspec.Meta(min_length=node.get("minItems"), max_length=node.get("maxItems"))
        return Annotated[list[element], bounds]  # type: ignore[valid-type]

    def _string_type(
        self, node: dict[str, Any], pointer: str, path: str, required: bool, in_array: bool
    ) -> Any:
        form = node.get("format")
        if "enum" in node:
            values = node["enum"]
            if len(values) > MAX_ENUM_VALUES:
                raise self.fail(pointer, f"enum has more than {MAX_ENUM_VALUES} values")
            if not all(isinstance(value, str) for value in values):
                raise self.fail(pointer, "enum of a string holds a value that is not a string")
            if {"format", "pattern", "minLength", "maxLength"} & set(node):
                raise self.fail(pointer, "enum with format, pattern or length limits")
            self._leaf(path, "string", required, in_array)
            return Literal[tuple(values)]
        pattern = node.get("pattern")
        if form in ("date-time", "date"):
            if pattern is not None:
                raise self.fail(pointer, f"pattern together with format {form!r}")
            pattern = ISO_TIMESTAMP if form == "date-time" else ISO_DATE
            sql_type = "timestamp" if form == "date-time" else "date"
            if not in_array:
                self.iso_leaves.append((path, sql_type))
        else:
            sql_type = "string"
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                problem = f"pattern {pattern!r} is not a regular expression: {exc}"
                raise self.fail(pointer, problem) from None
        self._leaf(path, sql_type, required, in_array)
        meta = msgspec.Meta(
            pattern=pattern, min_length=node.get("minLength"), max_length=node.get("maxLength")
        )
        return Annotated[str, meta]

    def _number_type(
        self,
        node: dict[str, Any],
        pointer: str,
        path: str,
        kind: str,
        required: bool,
        in_array: bool,
    ) -> Any:
        low, high = node.get("minimum"), node.get("maximum")
        if kind == "number":
            self._leaf(path, "double", required, in_array)
            bounds: dict[str, Any] = {
                option: node[keyword]
                for option, keyword in (
                    ("ge", "minimum"),
                    ("le", "maximum"),
                    ("gt", "exclusiveMinimum"),
                    ("lt", "exclusiveMaximum"),
                )
                if keyword in node
            }
            if {"ge", "gt"} <= set(bounds) or {"le", "lt"} <= set(bounds):
                raise self.fail(pointer, "both an inclusive and an exclusive bound on one side")
            meta = msgspec.Meta(**bounds)
            return Annotated[float, meta]
        # An integer without bounds is held to BIGINT's, so the ETL's column holds it.
        low = INT64_MIN if low is None else math.ceil(low)
        high = INT64_MAX if high is None else math.floor(high)
        if "exclusiveMinimum" in node:
            low = max(low, math.floor(node["exclusiveMinimum"]) + 1)
        if "exclusiveMaximum" in node:
            high = min(high, math.ceil(node["exclusiveMaximum"]) - 1)
        if low < INT64_MIN or high > INT64_MAX:
            raise self.fail(pointer, "integer bounds beyond the 64-bit range")
        if low > high:
            raise self.fail(pointer, f"no integer lies between {low} and {high}")
        small = low >= INT32_MIN and high <= INT32_MAX
        self._leaf(path, "int" if small else "bigint", required, in_array)
        return Annotated[int, msgspec.Meta(ge=low, le=high)]

    def _leaf(self, path: str, sql_type: str, required: bool, in_array: bool) -> None:
        if in_array:
            return  # held in its array's JSON text
        if len(self.leaves) >= MAX_LEAVES:
            raise SchemaError(f"dataset {self.dataset!r}: more than {MAX_LEAVES} columns")
        self.leaves.append(Leaf(path, sql_type, required))


def _struct_name(dataset: str, name: str, count: int) -> str:
    words = re.split(r"[^A-Za-z0-9]+", f"{dataset}_{name}")
    return "".join(word[:1].upper() + word[1:] for word in words if word) + str(count)


def _check_columns(dataset: str, leaves: list[Leaf]) -> None:
    """Two paths must not make one column (`a.b` and `a_b`), nor two Spark would confuse
    (it compares names ignoring case)."""
    seen: dict[str, str] = {}
    for leaf in leaves:
        column = leaf.column.lower()
        if column in seen:
            raise SchemaError(
                f"dataset {dataset!r}: fields {seen[column]!r} and {leaf.path!r} both make"
                f" column {leaf.column!r}"
            )
        seen[column] = leaf.path
