"""A user's own dataset, `orders`, declared in a bdp.toml by a JSON Schema: the files a
user writes, and records for it, good ones in every spelling accepted and bad ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DAY = "2024-04-16"

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "An order placed in the shop",
    "type": "object",
    "required": ["order_id", "placed_at", "customer", "total"],
    "properties": {
        "order_id": {"type": "string", "maxLength": 40},
        "placed_at": {"type": "string", "format": "date-time"},
        "customer": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "pattern": "^c[0-9]+$"},
                "tier": {"type": "string", "enum": ["gold", "silver"]},
            },
        },
        "total": {"type": "number", "minimum": 0},
        "qty": {"type": "integer", "minimum": 0, "maximum": 1000},
        "points": {"type": "integer"},
        "gift": {"type": "boolean"},
        "shipped_on": {"type": "string", "format": "date"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string"}, "n": {"type": "integer"}},
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}

CONFIG = """\
[datasets.orders]
schema = "orders.schema.json"
event_time = "placed_at"
key = "customer.id"
id_field = "order_id"
description = "Shop orders"
"""

CUSTOM_TRANSFORM = """\
def by_customer(events, F):
    return events.groupBy("customer_id").agg(
        F.count("*").alias("orders"), F.sum("total").alias("spent"), F.max("qty").alias("qty")
    )
"""


def write_dataset(
    folder: Path, extra_config: str = "", schema: dict[str, Any] | None = None
) -> Path:
    """bdp.toml and orders.schema.json in `folder`; returns the config file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orders.schema.json").write_text(json.dumps(schema or SCHEMA), encoding="utf-8")
    config = folder / "bdp.toml"
    config.write_text(CONFIG + extra_config, encoding="utf-8")
    return config


def good_orders(count: int = 40) -> list[dict[str, Any]]:
    """Valid orders of `DAY`, in every spelling the stream job accepts."""
    orders = []
    for i in range(count):
        order: dict[str, Any] = {
            "order_id": f"o{i}",
            "placed_at": f"{DAY}T{i % 24:02d}:{i % 60:02d}:07.{i:03d}Z",
            "customer": {"id": f"c{i % 7}"},
            "total": 12.5 + i,
        }
        if i % 2:
            order["customer"]["tier"] = "gold" if i % 4 == 1 else "silver"
            order["qty"] = i
            order["gift"] = i % 3 == 0
            order["items"] = [{"sku": f"s{i}", "n": 2}, {"sku": "x", "n": 1e3}]
            order["shipped_on"] = DAY
        if i % 5 == 0:
            order["total"] = "1e3"  # a number as text, the legacy spelling
            order["qty"] = "3"
            order["points"] = 9_000_000_000
            order["tags"] = ["a", "b"]
            order["placed_at"] = f"{DAY}T12:30+02:00"
        orders.append(order)
    return orders


def bad_orders() -> list[tuple[dict[str, Any], str]]:
    """Invalid orders, each with the quarantine reason it must get."""
    base = {"order_id": "b", "placed_at": f"{DAY}T10:00:00Z", "customer": {"id": "c1"}, "total": 1}
    return [
        ({k: v for k, v in base.items() if k != "total"}, "missing_field"),
        ({**base, "total": "abc"}, "wrong_type"),
        ({**base, "qty": 1001}, "out_of_range"),
        ({**base, "customer": {"id": "nobody"}}, "wrong_type"),
        ({**base, "placed_at": "2024-02-30T10:00:00Z"}, "bad_timestamp"),
        ({**base, "placed_at": "yesterday"}, "wrong_type"),
        ({**base, "shipped_on": "2024-13-01"}, "bad_timestamp"),
    ]


def encoded(records: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(record).encode() for record in records]
