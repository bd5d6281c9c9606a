"""A user's own dataset from the CLI: bdp.toml + a JSON Schema, records published on the
bus, landed, transformed and queried; then its schema changes."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import as_json
from tests.scenarios.orders import DAY, SCHEMA, bad_orders, good_orders, write_dataset


def _publish(folder: Path, values: list[bytes]) -> None:
    """Send records to the `orders` topic with the bus's Python API, as a producer would."""
    script = (
        "import sys, json\n"
        "from bdp.config import load_settings\n"
        "from bdp.bus import open_bus\n"
        "settings = load_settings(home=sys.argv[1])\n"
        "values = [line.encode() for line in sys.stdin.read().splitlines()]\n"
        "with open_bus(settings) as bus:\n"
        "    producer = bus.producer()\n"
        "    producer.send_batch('orders', values)\n"
        "    producer.close()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(folder / "home")],
        input=b"\n".join(values).decode(),
        cwd=folder,
        check=True,
        text=True,
        timeout=120,
    )


def test_a_declared_dataset_flows_from_bus_to_warehouse(bdp, tmp_path: Path) -> None:
    write_dataset(tmp_path)
    listed = {d["name"]: d for d in as_json(bdp("datasets", "--json"))}
    assert listed["orders"]["origin"] == str(tmp_path / "orders.schema.json")
    assert listed["orders"]["event_time"] == "placed_at"
    assert listed["orders"]["key"] == "customer.id"
    assert listed["weblogs"]["origin"] == "built-in"
    assert as_json(bdp("datasets", "show", "orders"))["properties"]["qty"]["maximum"] == 1000
    assert "$defs" in as_json(bdp("datasets", "show", "gamelogs"))

    good, bad = good_orders(30), bad_orders()
    _publish(tmp_path, [json.dumps(r).encode() for r in good + [r for r, _ in bad]])
    landed = as_json(bdp("stream", "run", "--until-idle", "--json"))["orders"]
    assert landed["landed"] == len(good) and landed["quarantined"] == len(bad)
    assert sum(landed["reasons"].values()) == len(bad)
    status = as_json(bdp("status", "--json"))
    assert status["lake"]["orders"]["raw"] == {DAY: len(good)}
    assert sum(status["lake"]["orders"]["quarantine"].values()) == len(bad)

    loaded = as_json(bdp("etl", "run", "orders", "--date", DAY, "--json"))["orders"][DAY]
    assert loaded["tables"] == {"orders": len(good)}
    count = as_json(bdp("query", "select count(*) as n from orders", "--json"))
    assert count == [{"n": len(good)}]
    [row] = as_json(bdp("query", "select * from orders where order_id = 'o5'", "--json"))
    assert row["customer_id"] == "c5" and row["total"] == 1000.0 and row["qty"] == 3
    assert json.loads(row["tags"]) == ["a", "b"]

    # A new optional field: accepted; the column appears, older rows read NULL.
    grown = copy.deepcopy(SCHEMA)
    grown["properties"]["coupon"] = {"type": "string"}
    (tmp_path / "orders.schema.json").write_text(json.dumps(grown))
    _publish(tmp_path, [json.dumps({**good[0], "order_id": "new", "coupon": "SPRING"}).encode()])
    bdp("stream", "run", "--until-idle")
    bdp("etl", "run", "orders", "--date", DAY)
    coupons = as_json(bdp("query", "select count(coupon) as n from orders", "--json"))
    assert coupons == [{"n": 1}]

    # A field's type changes: refused before anything lands, naming dataset and field.
    retyped = copy.deepcopy(grown)
    retyped["properties"]["qty"] = {"type": "string"}
    (tmp_path / "orders.schema.json").write_text(json.dumps(retyped))
    refused = bdp("stream", "run", "--until-idle", check=False)
    assert refused.returncode == 1
    assert "dataset 'orders': schema change refused: field 'qty' changed type" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_custom_transform_builds_the_curated_table(bdp, tmp_path: Path) -> None:
    write_dataset(tmp_path, 'transform = "shop_transforms:by_customer"\n')
    (tmp_path / "shop_transforms.py").write_text(
        "def by_customer(events, F):\n"
        "    return events.groupBy('customer_id').agg(F.count('*').alias('orders'))\n"
    )
    good = good_orders(21)
    _publish(tmp_path, [json.dumps(r).encode() for r in good])
    bdp("stream", "run", "--until-idle")
    bdp("etl", "run", "orders", "--date", DAY)
    rows = as_json(
        bdp("query", "select cast(sum(orders) as bigint) as n, count(*) as c from orders", "--json")
    )
    assert rows == [{"n": len(good), "c": 7}]

    write_dataset(tmp_path, 'transform = "shop_transforms:missing"\n')
    failed = bdp("etl", "run", "orders", "--date", DAY, check=False)
    assert failed.returncode != 0
    assert "transform 'shop_transforms:missing'" in failed.stderr
    assert "has no function 'missing'" in failed.stderr


def test_configuration_errors_are_one_line(bdp, tmp_path: Path) -> None:
    (tmp_path / "bdp.toml").write_text('[datasets.adlogs]\nschema = "x.json"\nevent_time = "t"\n')
    failed = bdp("datasets", check=False)
    assert failed.returncode == 2
    assert "clashes with the built-in dataset 'adlogs'" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
