"""Collection: the ways other programs' data comes in — HTTP, the Fluentd forward
protocol and file tail — each putting records on the dataset's bus topic through one
`Ingest`, which acknowledges a record only once the bus holds it durably."""

from __future__ import annotations

from bdp.collect.base import Backpressure, Collected, Collector, IngestUnavailable, find_dataset
from bdp.collect.ingest import ID_KEY_PREFIX, Ingest, id_key, record_id

__all__ = [
    "ID_KEY_PREFIX",
    "Backpressure",
    "Collected",
    "Collector",
    "Ingest",
    "IngestUnavailable",
    "find_dataset",
    "id_key",
    "record_id",
]
