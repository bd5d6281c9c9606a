"""The collector's OpenAPI 3.1 document: what a client may send and every answer it gets.

It is built from the same facts the server acts on (the datasets and their raw schemas,
the limits, which datasets need a token), so it cannot drift from them, and a fuzzer
reads it to probe the server (tests/unit/collect/test_http_fuzz.py).
"""

from __future__ import annotations

from typing import Any

import msgspec

from bdp.collect.http.body import ENCODINGS
from bdp.config import Settings
from bdp.datasets import Dataset

__all__ = ["MAX_LISTED_REJECTIONS", "openapi_document"]

MAX_LISTED_REJECTIONS = 100
"""A refused batch lists at most this many records' errors (and counts them all)."""

_JSON = "application/json"


def openapi_document(settings: Settings, datasets: list[Dataset], open_datasets: set[str]) -> Any:
    """The document; `open_datasets` are those that accept a client without a token."""
    http = settings.collect.http
    shapes, components = msgspec.json.schema_components(
        [dataset.raw_type for dataset in datasets], ref_template="#/components/schemas/{name}"
    )
    components.update(_SCHEMAS)
    paths: dict[str, Any] = {}
    for dataset, record in zip(datasets, shapes, strict=True):
        paths[f"/v1/events/{dataset.name}"] = {
            "post": _post_events(
                dataset, record, dataset.name in open_datasets, http.max_body_bytes
            )
        }
    paths["/healthz"] = {"get": _probe("Liveness: the process is up.", "Health", ready=False)}
    paths["/readyz"] = {
        "get": _probe("Readiness: accepting, and the bus takes records.", "Readiness", ready=True)
    }
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "responses": {
                "200": {"description": "The OpenAPI document.", "content": {_JSON: {"schema": {}}}}
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bdp HTTP collector",
            "version": "1",
            "description": _DESCRIPTION.format(max_body=http.max_body_bytes),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


_DESCRIPTION = """\
Records sent to `POST /v1/events/<dataset>` land on the dataset's bus topic, then in the
lake. A request is all or nothing: if any record is invalid the answer is 400 listing each
invalid record's error, and nothing of the request is written. A 200 is sent only once every
record of the request is durable on the bus. Send the same `Idempotency-Key` again with the
same body when a request failed or timed out: its records land once. Bodies are limited to
{max_body} bytes, before and after decompression. Other paths answer 404, other methods 405.
"""


def _post_events(dataset: Dataset, record: Any, open_: bool, max_body: int) -> Any:
    batch = {"oneOf": [record, {"type": "array", "items": record}]}
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    if open_:
        security.append({})
    return {
        "operationId": f"post_{dataset.name}",
        "summary": f"Send {dataset.name} records: {dataset.description}.",
        "description": (
            "The body is one JSON object, a JSON array of objects, or NDJSON (one object per"
            " line); the shape is read from the body. The record's partition key is"
            f" `{dataset.key_field}`."
            + ("" if open_ else " A bearer token of this dataset is required.")
        ),
        "security": security,
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Makes a retry land once: record i gets the id `<key>:<i>`.",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "pattern": "^[\\x20-\\x7e]+$",
                },
            },
            {
                "name": "Content-Encoding",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "enum": list(ENCODINGS)},
            },
        ],
        "requestBody": {
            "required": True,
            "description": f"At most {max_body} bytes, compressed and decompressed.",
            "content": {
                _JSON: {"schema": batch},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            "200": _answer("Every record is durable on the bus.", "Accepted"),
            "400": _answer(
                "The body is not JSON, or a record is invalid; nothing was written.", "Refused"
            ),
            "401": _answer(
                "No token, or an unknown one.",
                "Error",
                {"WWW-Authenticate": {"schema": {"type": "string"}}},
            ),
            "403": _answer("The token is another dataset's.", "Error"),
            "404": _answer("No such dataset (the error names the closest).", "Error"),
            "405": _answer("Only POST.", "Error", {"Allow": {"schema": {"type": "string"}}}),
            "408": _answer("The request took longer than the server waits.", "Error"),
            "413": _answer("The body, or the body decompressed, is too large.", "Error"),
            "415": _answer("A Content-Encoding other than gzip, zstd or identity.", "Error"),
            "429": _answer("Too many records wait for the bus: retry later.", "Error", _RETRY),
            "500": _answer("An unforeseen failure; the server logged it.", "Error"),
            "503": _answer(
                "The bus cannot take records now (disk full, broker away, stopping).",
                "Error",
                _RETRY,
            ),
        },
    }


def _probe(summary: str, schema: str, ready: bool) -> Any:
    responses = {"200": _answer(summary, schema)}
    if ready:
        responses["503"] = _answer("Not ready; the reasons say why.", schema)
    responses["405"] = _answer("Only GET.", "Error", {"Allow": {"schema": {"type": "string"}}})
    responses["500"] = _answer("An unforeseen failure; the server logged it.", "Error")
    return {"operationId": schema.lower(), "summary": summary, "responses": responses}


_RETRY = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _answer(description: str, schema: str, headers: dict[str, Any] | None = None) -> Any:
    answer: dict[str, Any] = {
        "description": description,
        "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


_SCHEMAS: dict[str, Any] = {
    "Accepted": {
        "type": "object",
        "properties": {"accepted": {"type": "integer", "minimum": 0}},
        "required": ["accepted"],
    },
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
    "Refused": {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "rejected": {"type": "integer", "minimum": 1, "description": "Invalid records."},
            "records": {
                "type": "array",
                "maxItems": MAX_LISTED_REJECTIONS,
                "description": f"The first {MAX_LISTED_REJECTIONS} invalid records.",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "line": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "Line of the body (NDJSON only).",
                        },
                        "reason": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                    "required": ["index", "reason", "detail"],
                },
            },
        },
        "required": ["error"],
    },
    "Health": {
        "type": "object",
        "properties": {"status": {"const": "ok"}},
        "required": ["status"],
    },
    "Readiness": {
        "type": "object",
        "properties": {
            "status": {"enum": ["ready", "not ready"]},
            "reasons": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["status", "reasons"],
    },
}
