"""The raw schema an engine reads a dataset with, and the type each leaf is cast to.

Raw records arrive in two wire forms (typed JSON and the reference's all-strings
form), so engines read every leaf as a string and transforms cast it: reading leaves
as strings is the one way to accept both. The shape comes from the dataset's msgspec
Struct, so legacy alias fields (`inpukey`, `User.offset_time`) are read too; so does
each leaf's type (`RawField.sql_type`): an integer is an INTEGER or a BIGINT as its
declared range needs, the range the stream job already held it to, so the cast
cannot fail. Engines render this tree in their own type syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from bdp.datasets import Dataset
from bdp.datasets.base import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN

__all__ = ["RawField", "leaf_type", "raw_fields"]


@dataclass(frozen=True)
class RawField:
    """One field of the raw record: a string leaf, or an object with `children`."""

    name: str
    children: tuple[RawField, ...] = ()
    sql_type: str = "string"
    """What the leaf holds, as a Spark SQL type name: `string`, `int`, `bigint`,
    `double` or `boolean`; or `json`: an array or a free-form object, read as its JSON
    text (engines spell that text their own way: compare it parsed)."""

    @property
    def nested(self) -> bool:
        return bool(self.children)


def raw_fields(dataset: Dataset) -> tuple[RawField, ...]:
    info = msgspec.inspect.type_info(dataset.raw_type)
    assert isinstance(info, msgspec.inspect.StructType)
    return _fields(info)


def leaf_type(dataset: Dataset, path: str) -> str:
    """The declared type of the leaf at a dotted `path` (`Boss.item_level`)."""
    fields = raw_fields(dataset)
    *parents, name = path.split(".")
    for parent in parents:
        fields = next(f.children for f in fields if f.name == parent)
    return next(f.sql_type for f in fields if f.name == name)


def _fields(info: msgspec.inspect.StructType) -> tuple[RawField, ...]:
    return tuple(
        RawField(field.encode_name, _children(field.type), _sql_type(field.type))
        for field in info.fields
    )


def _members(kind: msgspec.inspect.Type) -> tuple[msgspec.inspect.Type, ...]:
    # An optional value (`User: RaidUser | None`) is still that value on the wire.
    return kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)


def _children(kind: msgspec.inspect.Type) -> tuple[RawField, ...]:
    if _sql_type(kind) == "json":
        return ()
    for member in _members(kind):
        if isinstance(member, msgspec.inspect.StructType):
            return _fields(member)
    return ()


def _sql_type(kind: msgspec.inspect.Type) -> str:
    for member in _members(kind):
        if isinstance(member, (msgspec.inspect.ListType, msgspec.inspect.DictType)):
            return "json"
        if isinstance(member, msgspec.inspect.FloatType):
            return "double"
        if isinstance(member, msgspec.inspect.BoolType):
            return "boolean"
        if isinstance(member, msgspec.inspect.IntType):
            low, high = member.ge, member.le
            if low is None or high is None or low < INT64_MIN or high > INT64_MAX:
                raise TypeError(f"integer field with range [{low}, {high}]: no ETL type")
            return "int" if low >= INT32_MIN and high <= INT32_MAX else "bigint"
    return "string"
