"""The raw schema an engine reads a dataset with: every leaf a string.

Raw records arrive in two wire forms (typed JSON and the reference's all-strings
form), so reading leaves as strings and casting in the transform is the one way to
accept both. The shape comes from the dataset's msgspec Struct, so legacy alias
fields (`inpukey`, `User.offset_time`) are read too. Engines render this tree in
their own type syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from bdp.datasets import Dataset

__all__ = ["RawField", "raw_fields"]


@dataclass(frozen=True)
class RawField:
    """One field of the raw record: a string leaf, or an object with `children`."""

    name: str
    children: tuple[RawField, ...] = ()

    @property
    def nested(self) -> bool:
        return bool(self.children)


def raw_fields(dataset: Dataset) -> tuple[RawField, ...]:
    info = msgspec.inspect.type_info(dataset.raw_type)
    assert isinstance(info, msgspec.inspect.StructType)
    return _fields(info)


def _fields(info: msgspec.inspect.StructType) -> tuple[RawField, ...]:
    return tuple(RawField(field.encode_name, _children(field.type)) for field in info.fields)


def _children(kind: msgspec.inspect.Type) -> tuple[RawField, ...]:
    # An optional object (`User: RaidUser | None`) is still an object on the wire.
    members = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
    for member in members:
        if isinstance(member, msgspec.inspect.StructType):
            return _fields(member)
    return ()
