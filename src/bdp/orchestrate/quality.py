"""The daily DAG's `quality` task: check the day just loaded, keep the results, and
fail the run when a check fails.

The results are written to the warehouse (`quality_checks`) before the task fails, so
a failed day's results can be queried like its data; the failure carries them too, for
the scheduler to keep with the task's try.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

from bdp.errors import BdpError
from bdp.lake import open_lake
from bdp.lake.retrying import retrying
from bdp.logs import fields
from bdp.orchestrate.operations import TaskContext
from bdp.quality import CheckResult, run_checks, write_results
from bdp.retry import Retry
from bdp.warehouse import open_warehouse

__all__ = ["QualityCheckFailed", "quality"]

LOG = logging.getLogger("bdp.quality")


class QualityCheckFailed(BdpError):
    """Checks of a dataset's day failed; the message names each with what it observed
    and expected. `results` is what the task would have returned had they passed.
    Trying again would find the same data: the task fails without using its retries."""

    retryable = False

    def __init__(self, dataset: str, dt: date, checks: list[CheckResult]) -> None:
        self.dataset, self.dt, self.checks = dataset, dt, checks
        self.results = summarize(checks)
        failed = [check.summary() for check in checks if not check.passed]
        what = "1 quality check" if len(failed) == 1 else f"{len(failed)} quality checks"
        super().__init__(f"{dataset} dt={dt}: {what} failed: {'; '.join(failed)}")


def summarize(checks: list[CheckResult]) -> dict[str, Any]:
    """JSON-ready: every check's result, and how many failed."""
    return {
        "checks": [check.as_dict() for check in checks],
        "failed": sum(not check.passed for check in checks),
    }


def quality(ctx: TaskContext) -> dict[str, Any]:
    """Check day D of the DAG's dataset and replace its results in `quality_checks`;
    raises `QualityCheckFailed` (after writing them) when any check failed."""
    settings, dataset, dt = ctx.settings, ctx.dataset, ctx.dt
    began = time.perf_counter()
    lake = retrying(open_lake(settings), Retry(log=LOG))
    with open_warehouse(settings) as warehouse:
        checks = run_checks(settings, dataset, dt, lake, warehouse)
        write_results(warehouse, dataset, dt, checks, ctx.now)
    summary = summarize(checks)
    LOG.info(
        "checks %s",
        fields(
            dataset=dataset,
            dt=dt,
            checks=len(checks),
            failed=summary["failed"],
            seconds=time.perf_counter() - began,
        ),
    )
    if summary["failed"]:
        raise QualityCheckFailed(dataset, dt, checks)
    return summary
