"""What a dataset's curated tables are held to, read from where each rule is declared.

Nothing is declared twice for the checks' sake: which table holds one row per raw
record, the rules that leave rows out of it and the keys of each table are declared
beside the transform that builds them (`bdp.etl.transforms`: `RECORDS_TABLE`, `DROPS`,
`KEYS`, `LEAF_COLUMNS`); which values a record must hold is the dataset's raw schema.
A field is required when the schema makes every record carry it with a value: a
msgspec field without a default whose type does not admit None, inside objects that
are required too. A dataset declared by a JSON Schema has such a field for each
property that is `required` and whose type does not include `null`.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Annotated, Any

import msgspec

from bdp.config import Settings
from bdp.datasets import get_dataset
from bdp.etl.transforms import get_transform

__all__ = ["TableRules", "required_leaves", "table_rules"]


@dataclass(frozen=True)
class TableRules:
    """One dataset's curated tables and what each is held to."""

    dataset: str
    tables: tuple[str, ...]
    records_table: str | None
    """The table with one row per raw record, less the rows `drops` leave out; None
    when none is (a user's own transform)."""
    drops: tuple[str, ...]
    """Names of the rules that leave raw rows out of the records table."""
    keys: dict[str, tuple[str, ...]]
    """Table → the columns that identify its rows, where the transform declares some."""
    required_columns: tuple[str, ...]
    """Columns of the records table (of the main table, for a user's own transform)
    that every row has a value in: the required leaves of the raw schema."""
    strict_columns: bool
    """A required column missing from the table is a failure (a built-in or generic
    transform keeps every leaf); a user's own transform may leave any out."""

    @property
    def main_table(self) -> str:
        """The table whose daily rows are compared with earlier days'."""
        return self.records_table or self.tables[0]


def table_rules(settings: Settings, dataset: str) -> TableRules:
    source, transform = get_dataset(dataset, settings), get_transform(dataset, settings)
    records: str | None = transform.RECORDS_TABLE
    leaf_columns: dict[str, str] = transform.LEAF_COLUMNS
    required = tuple(
        leaf_columns.get(path, path.replace(".", "_")) for path in required_leaves(source.raw_type)
    )
    return TableRules(
        dataset=dataset,
        tables=tuple(transform.TABLES),
        records_table=records,
        drops=tuple(transform.DROPS),
        keys={table: tuple(columns) for table, columns in transform.KEYS.items()},
        required_columns=required,
        strict_columns=records is not None,
    )


def required_leaves(raw_type: type[msgspec.Struct]) -> list[str]:
    """Dotted wire paths of the leaves every record holds a value in, in schema order."""
    found: list[str] = []
    for field in msgspec.structs.fields(raw_type):
        kind, nullable = _unwrapped(field.type)
        if not field.required or nullable:
            continue
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            found.extend(f"{field.encode_name}.{path}" for path in required_leaves(kind))
        else:
            found.append(field.encode_name)
    return found


def _unwrapped(hint: Any) -> tuple[Any, bool]:
    """The type a hint holds besides None, and whether it admits None."""
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) in (typing.Union, UnionType):
        members = [m for m in typing.get_args(hint) if m is not NoneType]
        nullable = len(members) < len(typing.get_args(hint))
        return (members[0] if len(members) == 1 else hint), nullable
    return hint, False
