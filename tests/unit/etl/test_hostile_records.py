"""Whatever the stream job lands, the ETL loads: odd but valid records of every dataset."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bdp.datasets import DATASETS, get_dataset
from bdp.etl import run_etl
from bdp.stream.validate import validate_batch
from tests.scenarios.hostile import DAY, hostile_records

from .conftest import write_raw


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_record_the_stream_job_lands_loads(settings, lake, engine, dataset: str) -> None:
    records = hostile_records(dataset)
    checked = validate_batch(get_dataset(dataset), records, 1 << 20, ZoneInfo("UTC"))
    assert [(r.reason, r.detail) for r in checked.rejected] == []
    assert {str(d) for d in checked.dates} == {DAY.isoformat()}
    lines = [record.decode() for record in records]
    write_raw(lake, dataset, DAY, "part-00000-00000000000000000000-1.jsonl.zst", lines)
    result = run_etl(settings, dataset, DAY, lake=lake, engine=engine)
    assert result.raw_rows == len(records)
