"""The wire form of a raw schema: what a record may look like on the bus.

A raw schema declares what each leaf holds (text, a boolean, an integer in a range); on
the wire a leaf comes typed (the corrected format) or as a string (the legacy format).
The wire form derived here accepts exactly the spellings both ETL engines cast to the
declared type, and it is decoded strictly, so nothing is coerced on the way:

- an integer: a JSON integer in the declared range, or a string of its digits. No
  fraction or exponent (`3.0`, `1e3`): Spark refuses to cast those to an integer. As a
  string it has at most as many digits as every value of the range has (9 for an
  INTEGER, 18 for a BIGINT), so a string that a pattern admits is always in range;
- a boolean: `true`/`false`, or one of the strings in `BOOLEAN_TEXT`;
- text: a JSON string; nested objects: their own wire form.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Annotated, Any

import msgspec

__all__ = ["BOOLEAN_TEXT", "declared_keys", "integer_text", "leaf_range", "wire_type"]

BOOLEAN_TEXT = r"^(true|false|True|False|TRUE|FALSE|1|0)$"
"""Boolean spellings of the legacy format that both ETL engines cast."""


@functools.cache
def wire_type(raw_type: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """A Struct with the fields of `raw_type` (names, wire names, defaults) whose leaves
    accept both wire spellings, to decode with `strict=True`."""
    hints = typing.get_type_hints(raw_type, include_extras=True)
    names = raw_type.__struct_fields__
    defaults = raw_type.__struct_defaults__
    first_default = len(names) - len(defaults)
    fields: list[Any] = []
    for index, name in enumerate(names):
        kind = _wire(hints[name], f"{raw_type.__name__}.{name}")
        if index >= first_default:
            fields.append((name, kind, defaults[index - first_default]))
        else:
            fields.append((name, kind))
    renamed = {
        name: wire
        for name, wire in zip(names, raw_type.__struct_encode_fields__, strict=True)
        if name != wire
    }
    return msgspec.defstruct(f"{raw_type.__name__}Wire", fields, rename=renamed or None)


@functools.cache
def declared_keys(raw_type: type[msgspec.Struct]) -> tuple[str, ...]:
    """Every key the schema declares, as it is spelled on the wire, once per object that
    declares it (a name two objects declare is listed twice)."""
    hints = typing.get_type_hints(raw_type, include_extras=True)
    keys: list[str] = []
    for name, wire in zip(
        raw_type.__struct_fields__, raw_type.__struct_encode_fields__, strict=True
    ):
        keys.append(wire)
        members = typing.get_args(hints[name]) or (hints[name],)
        for member in members:
            if isinstance(member, type) and issubclass(member, msgspec.Struct):
                keys.extend(declared_keys(member))
    return tuple(keys)


def leaf_range(hint: Any) -> tuple[int, int] | None:
    """The declared (min, max) of an integer leaf, or None if `hint` is not one."""
    if typing.get_origin(hint) is Annotated:
        base, *metas = typing.get_args(hint)
        if base is int:
            bounds = [(m.ge, m.le) for m in metas if isinstance(m, msgspec.Meta)]
            if bounds and None not in bounds[0]:
                return bounds[0]
    return None


def integer_text(low: int, high: int) -> str:
    """The pattern of an integer of [low, high] written as a string: every number with
    fewer digits than the range's bounds, so the pattern alone keeps it in range."""
    if low > 0:
        raise TypeError(f"an integer range must include 0, not [{low}, {high}]")
    digits = len(str(high + 1)) - 1
    sign = ""
    if low < 0:
        digits = min(digits, len(str(-low + 1)) - 1)
        sign = "-?"
    return f"^{sign}[0-9]{{1,{max(digits, 1)}}}$"


def _wire(hint: Any, where: str) -> Any:
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return wire_type(hint)
    if hint is str or hint is type(None):
        return hint
    if hint is bool:
        return bool | Annotated[str, msgspec.Meta(pattern=BOOLEAN_TEXT)]
    bounds = leaf_range(hint)
    if bounds is not None:
        return hint | Annotated[str, msgspec.Meta(pattern=integer_text(*bounds))]
    if hint is int:
        raise TypeError(f"{where}: declare the range of an integer (Int32, Int64, …)")
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [_wire(member, where) for member in typing.get_args(hint)]
        return functools.reduce(lambda a, b: a | b, members)
    raise TypeError(f"{where}: {hint!r} has no wire form")
