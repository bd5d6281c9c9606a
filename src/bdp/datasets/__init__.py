"""The datasets bdp knows: topic, raw schema and event time of each (SCENARIOS §3–§7)."""

from __future__ import annotations

from bdp.datasets import adlogs, gamelogs, hotellogs, lostarklogs, weblogs
from bdp.datasets.base import Dataset, format_timestamp
from bdp.errors import UnknownNameError

__all__ = ["DATASETS", "Dataset", "format_timestamp", "get_dataset"]

DATASETS: dict[str, Dataset] = {
    module.DATASET.name: module.DATASET
    for module in (gamelogs, hotellogs, lostarklogs, adlogs, weblogs)
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownNameError("dataset", name, list(DATASETS)) from None
