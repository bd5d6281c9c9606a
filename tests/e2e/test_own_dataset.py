"""A dataset declared in bdp.toml only, sent by curl and by PyPI's fluent-logger through
`bdp serve` on the embedded bus, lands and loads into its curated table."""

from __future__ import annotations

import os
from pathlib import Path

from tests.scenarios.own_dataset import send_own_dataset_through_serve


def test_a_declared_dataset_flows_from_curl_and_fluent_logger_to_the_warehouse(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BDP_")}
    send_own_dataset_through_serve(tmp_path, env)
