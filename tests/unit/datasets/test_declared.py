"""Datasets declared in bdp.toml: configuration errors, the registry, record validation
and the schema changes a dataset with data may go through."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bdp.config import Settings, load_settings
from bdp.datasets import DATASETS, get_dataset, load_datasets
from bdp.datasets.evolution import SchemaChangeError, check_schema_change, recorded_schema_path
from bdp.errors import ConfigError, UnknownNameError
from bdp.stream.validate import validate_batch
from tests.scenarios.orders import SCHEMA, bad_orders, encoded, good_orders, write_dataset


def _settings(folder: Path, extra: str = "", schema: dict | None = None) -> Settings:
    write_dataset(folder, extra, schema)
    return load_settings(home=folder / "home", environ={}, cwd=folder)


def test_a_declared_dataset_joins_the_built_in_ones(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    datasets = load_datasets(settings)
    assert list(datasets) == [*DATASETS, "orders"]
    orders = get_dataset("orders", settings)
    assert orders is datasets["orders"]  # converted once per schema file version
    assert (orders.key_field, orders.id_field, orders.event_time_field) == (
        "customer.id",
        "order_id",
        "placed_at",
    )
    assert orders.schema_file == tmp_path / "orders.schema.json"
    assert orders.description == "Shop orders" and orders.check is None
    assert get_dataset("gamelogs", settings).event_time_field == "datetime"
    with pytest.raises(UnknownNameError, match="Did you mean 'orders'"):
        get_dataset("order", settings)
    with pytest.raises(UnknownNameError):
        get_dataset("orders")  # without settings: the built-in ones only


def test_the_schema_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = write_dataset(tmp_path / "conf")
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    settings = load_settings(config, home=tmp_path / "home", environ={}, cwd=elsewhere)
    assert settings.datasets["orders"].schema_path == tmp_path / "conf" / "orders.schema.json"


def test_the_environment_overrides_a_declared_dataset(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(SCHEMA))
    environ = {
        "BDP_DATASETS__ORDERS__SCHEMA": "other.json",
        "BDP_DATASETS__ORDERS__KEY": '"order_id"',
    }
    settings = load_settings(home=tmp_path / "home", environ=environ, cwd=tmp_path)
    assert settings.datasets["orders"].schema_path == other
    assert get_dataset("orders", settings).key_field == "order_id"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[datasets.Orders]\nschema = "s.json"\nevent_time = "t"\n', "dataset name 'Orders'"),
        ('[datasets.weblogs]\nschema = "s.json"\nevent_time = "t"\n', "clashes with the built-in"),
        ('[datasets.shop]\nschema = "missing.json"\nevent_time = "t"\n', "no schema file"),
        ('[datasets.shop]\nevent_time = "t"\n', "datasets.shop.schema"),
        (
            '[datasets.shop]\nschema = "s.json"\nevent_time = "t"\nkye = "a"\n',
            r"unknown key 'datasets.shop.kye' \(did you mean 'key'\?\)",
        ),
        (
            '[datasets.shop]\nschema = "s.json"\nevent_time = "t"\ntransform = "nocolon"\n',
            "datasets.shop.transform",
        ),
        (
            '[datasets.shop]\nschema = "s.json"\nevent_time = "t"\nevent_time_formats = ["x"]\n',
            "event_time_formats",
        ),
    ],
)
def test_configuration_errors_are_one_line(tmp_path: Path, config: str, message: str) -> None:
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "bdp.toml").write_text(config)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(home=tmp_path / "home", environ={}, cwd=tmp_path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1]", "does not hold a JSON object"),
        (json.dumps({**SCHEMA, "oneOf": [{"type": "object"}]}), "keyword 'oneOf' at /"),
    ],
)
def test_schema_file_errors_name_the_dataset(tmp_path: Path, text: str, message: str) -> None:
    settings = _settings(tmp_path)
    (tmp_path / "orders.schema.json").write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_datasets(settings)
    assert "'orders'" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[datasets.shop]\nschema = "orders.schema.json"\nevent_time = "total"\n',
            "must be a string with format 'date-time'",
        ),
        (
            '[datasets.shop]\nschema = "orders.schema.json"\nevent_time = "when"\n',
            "'when' is not declared",
        ),
        (
            '[datasets.shop]\nschema = "orders.schema.json"\nevent_time = "placed_at"\n'
            'key = "items"\n',
            "key field 'items' is not a scalar",
        ),
    ],
)
def test_fields_named_in_the_settings_must_fit(tmp_path: Path, extra: str, message: str) -> None:
    settings = _settings(tmp_path, extra)
    with pytest.raises(ConfigError, match=message):
        get_dataset("shop", settings)


def test_records_are_validated_against_the_schema(tmp_path: Path) -> None:
    orders = get_dataset("orders", _settings(tmp_path))
    good, bad = good_orders(), bad_orders()
    values = encoded(good) + encoded([record for record, _ in bad])
    checked = validate_batch(orders, values, 1 << 20, ZoneInfo("UTC"))
    assert checked.valid == list(range(len(good)))
    assert [(r.index - len(good), r.reason) for r in checked.rejected] == [
        (i, reason) for i, (_, reason) in enumerate(bad)
    ]
    # `12:30+02:00` is 10:30 UTC: every good order is of the same UTC day.
    assert {str(day) for day in checked.dates} == {"2024-04-16"}


def _changed(schema: dict, change: str) -> dict:
    changed = copy.deepcopy(schema)
    properties = changed["properties"]
    if change == "add optional":
        properties["coupon"] = {"type": "string"}
    elif change == "add required":
        properties["coupon"] = {"type": "string"}
        changed["required"].append("coupon")
    elif change == "remove":
        del properties["gift"]
    elif change == "retype":
        properties["qty"] = {"type": "number"}
    elif change == "require":
        changed["required"].append("qty")
    elif change == "loosen":
        changed["required"].remove("total")
    return changed


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ("add optional", None),
        ("loosen", None),
        ("add required", "new field 'coupon' is required"),
        ("remove", "field 'gift' was removed"),
        ("retype", "field 'qty' changed type from int to double"),
        ("require", "field 'qty' became required"),
    ],
)
def test_only_new_optional_fields_may_join_a_used_schema(
    tmp_path: Path, change: str, refusal: str | None
) -> None:
    settings = _settings(tmp_path)
    check_schema_change(settings, get_dataset("orders", settings))
    record = recorded_schema_path(settings, "orders")
    first = record.read_text()
    settings = _settings(tmp_path, schema=_changed(SCHEMA, change))
    changed = get_dataset("orders", settings)
    if refusal is None:
        check_schema_change(settings, changed)
        assert record.read_text() != first  # the accepted schema is the one to compare with
        return
    expected = f"dataset 'orders': schema change refused: {refusal}"
    with pytest.raises(SchemaChangeError, match=expected):
        check_schema_change(settings, changed)
    assert record.read_text() == first
