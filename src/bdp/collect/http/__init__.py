"""The HTTP collector: `POST /v1/events/<dataset>` takes JSON records from any HTTP
client (curl, a web backend, Fluentd's `out_http`, Fluent Bit's `http` output) and
answers only once they are durable on the bus; `/healthz`, `/readyz` and
`/openapi.json` describe it to load balancers, orchestrators and client generators."""

from __future__ import annotations

from bdp.collect.http.server import HealthReport, HttpCollector

__all__ = ["HealthReport", "HttpCollector"]
