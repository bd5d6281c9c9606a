"""Schemathesis reads the collector's own OpenAPI document from the running server and
sends what it describes (and what it forbids) to every operation: no answer may be a
5xx, and every answer must be one the document promises, with the schema it gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bdp.datasets import DATASETS

from .http_harness import stack, write_settings

TOKENS = """
[collect.http.tokens]
gamelogs = ["fuzz-token"]
"""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_a_server_error(tmp_path: Path, mode: GenerationMode) -> None:
    with stack(write_settings(tmp_path, "max_body_bytes = 65536\n" + TOKENS)) as running:
        url = running.served.url
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        labels = {operation.label for operation in operations}
        assert {f"POST /v1/events/{name}" for name in DATASETS} | {"GET /readyz"} <= labels

        for operation in operations:
            if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
                continue  # nothing to send wrong: no parameters, no body

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=40,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def probe(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=url, checks=CHECKS, timeout=30)

            probe()
