"""The warehouse: typed tables partitioned by day, behind one interface.

`open_warehouse(settings)` picks the backend `warehouse.backend` names, from
`WAREHOUSES`: `duckdb` (embedded, the default) or `mysql` (needs the `mysql` extra).
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
    WarehouseUnavailableError,
)

__all__ = [
    "PARTITION_COLUMN",
    "WAREHOUSES",
    "QueryError",
    "Warehouse",
    "WarehouseCapabilities",
    "WarehouseError",
    "WarehouseUnavailableError",
    "open_warehouse",
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


def open_warehouse(settings: Settings, on_wait: Callable[[str], None] | None = None) -> Warehouse:
    """The configured warehouse; `on_wait` hears when an operation has to wait for
    another process (the embedded warehouse's file is held by a load)."""
    return WAREHOUSES.open(settings.warehouse.backend, settings, on_wait)
