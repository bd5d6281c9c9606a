"""What each dataset's tables are held to: read from the transforms and raw schemas."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from bdp.config import Settings, load_settings
from bdp.datasets import DATASETS
from bdp.quality.rules import required_leaves, table_rules
from bdp.warehouse import open_warehouse
from tests.scenarios.orders import CUSTOM_TRANSFORM, write_dataset


class Inner(msgspec.Struct):
    must: str
    may: str | None = None


class Record(msgspec.Struct, rename={"kind_": "kind"}):
    id: int
    kind_: str
    nullable: str | None
    inner: Inner
    maybe_inner: Inner | None = None
    defaulted: int = 0


def test_required_leaves_have_no_default_and_admit_no_null() -> None:
    # Wire names, dotted; an optional object's fields are not required however declared.
    assert required_leaves(Record) == ["id", "kind", "inner.must"]


def test_the_lost_ark_room_result_rule_and_required_leaves(tmp_path: Path) -> None:
    rules = table_rules(load_settings(environ={}, cwd=tmp_path), "lostarklogs")
    assert rules.records_table == "lostark_analysis_log" == rules.main_table
    assert rules.drops == ("room_result",)
    assert rules.keys == {"lostark_room_results": ("sessionID",)}
    assert rules.required_columns == (
        "sessionID",
        "startTime",
        "gametime",
        "Boss_name",
        "Boss_item_level",
        "Boss_endTime",
        "method",
    )


def test_ad_leaves_map_to_their_renamed_columns(tmp_path: Path) -> None:
    rules = table_rules(load_settings(environ={}, cwd=tmp_path), "adlogs")
    assert rules.drops == ()
    assert {"ad_id", "viewing_time", "account", "total_time"} <= set(rules.required_columns)
    renamed = [c for c in rules.required_columns if c.startswith(("Ad_", "User_"))]
    assert renamed == []


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_declared_column_is_a_column_of_the_loaded_tables(
    built_day: Path, dataset: str
) -> None:
    settings = load_settings(home=built_day, environ={}, cwd=built_day)
    rules = table_rules(settings, dataset)
    assert rules.records_table in rules.tables and rules.strict_columns
    assert set(rules.keys) <= set(rules.tables)
    with open_warehouse(settings) as warehouse:

        def columns(table: str) -> set[str]:
            return set(warehouse.query(f"SELECT * FROM {table} LIMIT 0").column_names)

        assert set(rules.required_columns) <= columns(rules.main_table)
        for table, key in rules.keys.items():
            assert set(key) <= columns(table), table


def _declared(folder: Path, custom: bool) -> Settings:
    extra = 'transform = "shop_rules:by_customer"\n' if custom else ""
    write_dataset(folder, extra)
    (folder / "shop_rules.py").write_text(CUSTOM_TRANSFORM)
    return load_settings(home=folder / "home", environ={}, cwd=folder)


def test_a_declared_dataset_is_keyed_by_its_id_field_and_requires_its_required(
    tmp_path: Path,
) -> None:
    rules = table_rules(_declared(tmp_path, custom=False), "orders")
    assert (rules.tables, rules.records_table, rules.drops) == (("orders",), "orders", ())
    assert rules.keys == {"orders": ("order_id",)}
    # `customer.tier` is not required; `customer.id` is, inside a required object.
    assert rules.required_columns == ("order_id", "placed_at", "customer_id", "total")


def test_a_declared_dataset_with_its_own_transform_declares_no_records_or_key(
    tmp_path: Path,
) -> None:
    rules = table_rules(_declared(tmp_path, custom=True), "orders")
    assert (rules.records_table, rules.main_table, rules.keys) == (None, "orders", {})
    assert not rules.strict_columns  # its table need not keep any leaf


def test_a_required_property_that_may_be_null_is_not_required_to_hold_a_value(
    tmp_path: Path,
) -> None:
    from tests.scenarios.orders import SCHEMA

    schema = {**SCHEMA, "properties": {**SCHEMA["properties"]}}
    schema["properties"]["total"] = {"type": ["number", "null"]}
    write_dataset(tmp_path, schema=schema)
    settings = load_settings(home=tmp_path / "home", environ={}, cwd=tmp_path)
    assert "total" not in table_rules(settings, "orders").required_columns
