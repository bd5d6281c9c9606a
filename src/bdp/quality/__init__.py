"""Data quality: the checks each dataset's day must pass after its ETL and load.

`run_checks` checks one dataset's day (row reconciliation from the lake to the
warehouse, declared keys, required columns, the day's row count against earlier days)
and `write_results` keeps the results in the warehouse table `quality_checks`. What
each table is held to is declared beside its transform (`rules`). The daily DAG's
`quality` task runs both (`bdp.orchestrate.quality`).
"""

from bdp.quality.checks import run_checks
from bdp.quality.results import QUALITY_TABLE, CheckResult, write_results
from bdp.quality.rules import TableRules, table_rules

__all__ = [
    "QUALITY_TABLE",
    "CheckResult",
    "TableRules",
    "run_checks",
    "table_rules",
    "write_results",
]
