"""The daily batch ETL: one dataset, one day, raw lake partition → curated tables → warehouse.

Transforms are written once with the PySpark DataFrame API (`bdp.etl.transforms`)
and run on the engine the settings choose (`bdp.etl.engine`).
"""

from __future__ import annotations

from bdp.etl.engine import Engine, EngineCapabilities, open_engine
from bdp.etl.runner import EtlError, EtlResult, load_day, run_etl, transform_options
from bdp.etl.runs import EtlRun, RunLog
from bdp.etl.transforms import TRANSFORMS, TransformOptions, get_transform

__all__ = [
    "TRANSFORMS",
    "Engine",
    "EngineCapabilities",
    "EtlError",
    "EtlResult",
    "EtlRun",
    "RunLog",
    "TransformOptions",
    "get_transform",
    "load_day",
    "open_engine",
    "run_etl",
    "transform_options",
]
