"""The warehouse: typed tables partitioned by day, behind one interface.

`open_warehouse(settings)` picks the backend `warehouse.backend` names, from
`WAREHOUSES`: `duckdb` (embedded, the default), `mysql` (needs the `mysql` extra) or
`hive` (Spark's Hive catalog over the lake; needs the `spark` extra).
"""

from __future__ import annotations

from collections.abc import Callable

from bdp.config import Settings
from bdp.registry import Registry
from bdp.warehouse.base import (
    PARTITION_COLUMN,
    QueryError,
    Warehouse,
    WarehouseCapabilities,
    WarehouseError,
)

__all__ = [
    "PARTITION_COLUMN",
    "WAREHOUSES",
    "QueryError",
    "Warehouse",
    "WarehouseCapabilities",
    "WarehouseError",
    "open_warehouse",
    "spark_session_conf",
]

WAREHOUSES: Registry[Warehouse, WarehouseCapabilities] = Registry("warehouse")
"""Warehouse backends by name; each factory takes the `Settings` and an `on_wait`
callback (see `open_warehouse`)."""


@WAREHOUSES.register("duckdb", WarehouseCapabilities())
def _open_duckdb(settings: Settings, on_wait: Callable[[str], None] | None) -> Warehouse:
    from bdp.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(
        settings.paths.warehouse, lock_timeout_s=settings.warehouse.lock_timeout_s, on_wait=on_wait
    )


@WAREHOUSES.register("mysql", WarehouseCapabilities(), requires="pymysql", extra="mysql")
def _open_mysql(settings: Settings, on_wait: Callable[[str], None] | None) -> Warehouse:
    from bdp.warehouse.mysql import MysqlWarehouse

    return MysqlWarehouse(settings.warehouse.mysql, on_wait=on_wait)


@WAREHOUSES.register(
    "hive",
    WarehouseCapabilities(registers_files_in_place=True, spark_catalog=True),
    requires="pyspark",
    extra="spark",
)
def _open_hive(settings: Settings, on_wait: Callable[[str], None] | None) -> Warehouse:
    from bdp.warehouse.hive import HiveWarehouse

    return HiveWarehouse(settings)


def spark_session_conf(settings: Settings) -> dict[str, str]:
    """What the process's SparkSession needs so that the configured warehouse can share
    it (one session per process): nothing unless the warehouse is a Spark catalog."""
    if not WAREHOUSES.capabilities(settings.warehouse.backend).spark_catalog:
        return {}
    from bdp.warehouse.hive import session_conf

    return session_conf(settings)


def open_warehouse(settings: Settings, on_wait: Callable[[str], None] | None = None) -> Warehouse:
    """The configured warehouse; `on_wait` hears when an operation has to wait for
    another process (the embedded warehouse's file is held by a load)."""
    return WAREHOUSES.open(settings.warehouse.backend, settings, on_wait)
