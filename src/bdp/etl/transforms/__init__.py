"""One transform per dataset, each written once with the PySpark DataFrame API.

A transform module exposes `TABLES` (the tables it builds, all partitioned by the
processed day `dt`) and `build(raw, engine, options)`, which maps each table name to
a DataFrame without a `dt` column: the day is the directory partition.
"""

from __future__ import annotations

from types import ModuleType

from bdp.errors import UnknownNameError
from bdp.etl.transforms import adlogs, gamelogs, hotellogs, lostarklogs, weblogs
from bdp.etl.transforms.base import TransformOptions

__all__ = ["TRANSFORMS", "TransformOptions", "get_transform"]

TRANSFORMS: dict[str, ModuleType] = {
    "gamelogs": gamelogs,
    "hotellogs": hotellogs,
    "lostarklogs": lostarklogs,
    "adlogs": adlogs,
    "weblogs": weblogs,
}


def get_transform(dataset: str) -> ModuleType:
    try:
        return TRANSFORMS[dataset]
    except KeyError:
        raise UnknownNameError("transform", dataset, list(TRANSFORMS)) from None
