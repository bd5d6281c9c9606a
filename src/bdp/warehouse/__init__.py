"""The warehouse: typed tables partitioned by day, behind one interface.

`open_warehouse(settings)` picks the backend from `warehouse.backend`: `duckdb`
(embedded, the default) or `mysql` (needs the `mysql` extra).
"""

from __future__ import annotations

from collections.abc import Callable

from bdp.config import Settings
from bdp.errors import MissingExtraError, UnknownNameError
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


def _open_duckdb(settings: Settings, on_wait: Callable[[str], None] | None) -> Warehouse:
    from bdp.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(
        settings.paths.warehouse, lock_timeout_s=settings.warehouse.lock_timeout_s, on_wait=on_wait
    )


def _open_mysql(settings: Settings, on_wait: Callable[[str], None] | None) -> Warehouse:
    try:
        import pymysql  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise MissingExtraError("sqlalchemy", "mysql") from None
    raise WarehouseUnavailableError(
        "the mysql warehouse is not available yet; set warehouse.backend = 'duckdb'"
    )


WAREHOUSES: dict[str, Callable[[Settings, Callable[[str], None] | None], Warehouse]] = {
    "duckdb": _open_duckdb,
    "mysql": _open_mysql,
}


def open_warehouse(settings: Settings, on_wait: Callable[[str], None] | None = None) -> Warehouse:
    """The configured warehouse; `on_wait` hears when an operation has to wait for
    another process (the embedded warehouse's file is held by a load)."""
    try:
        factory = WAREHOUSES[settings.warehouse.backend]
    except KeyError:
        raise UnknownNameError("warehouse", settings.warehouse.backend, list(WAREHOUSES)) from None
    return factory(settings, on_wait)
