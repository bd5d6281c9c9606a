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


def _open_duckdb(settings: Settings) -> Warehouse:
    from bdp.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(settings.paths.warehouse)


def _open_mysql(settings: Settings) -> Warehouse:
    try:
        import pymysql  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise MissingExtraError("sqlalchemy", "mysql") from None
    raise WarehouseUnavailableError(
        "the mysql warehouse is not available yet; set warehouse.backend = 'duckdb'"
    )


WAREHOUSES: dict[str, Callable[[Settings], Warehouse]] = {
    "duckdb": _open_duckdb,
    "mysql": _open_mysql,
}


def open_warehouse(settings: Settings) -> Warehouse:
    try:
        factory = WAREHOUSES[settings.warehouse.backend]
    except KeyError:
        raise UnknownNameError("warehouse", settings.warehouse.backend, list(WAREHOUSES)) from None
    return factory(settings)
