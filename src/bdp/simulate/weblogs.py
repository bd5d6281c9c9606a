"""Web access log simulator (SCENARIOS §7.2): clients requesting pages for 300 s.

Each client has an IP and a session UUID; every request draws its method, URL,
response code and response time independently. The legacy format is the reference's
hand-written text: strings everywhere, `": "` after each key, slashes as they are.
"""

from __future__ import annotations

import numpy as np

from bdp.simulate.base import EventTable, SimulationParams, ordered_table
from bdp.simulate.draw import UserClock, categorical, rng_streams, time_order
from bdp.simulate.jsonwire import CORRECTED, HAND_WRITTEN, Lookup, Spec, Template, int_range
from bdp.simulate.texts import event_time, ip_addresses, uuid4_texts

__all__ = ["simulate_weblogs"]

REFERENCE_CLIENTS = 15
REFERENCE_SECONDS = 300
MIN_SLEEP_MS, MAX_SLEEP_MS = 500, 60_000

METHODS = ("GET", "POST")
P_POST = 0.3
URLS = ("/", "/doc/page", "/ads/page")
URL_PROBABILITIES = (0.8, 0.1, 0.1)
CODES = (200, 404)
P_NOT_FOUND = 0.03
RESPONSE_MS = (100, 1000)


def simulate_weblogs(params: SimulationParams) -> EventTable:
    clients = params.population(REFERENCE_CLIENTS)
    population_rng, clock_rng, event_rng = rng_streams(params.seed, "weblogs", 3)
    ips = ip_addresses(population_rng, clients)
    sessions = uuid4_texts(population_rng, clients)
    start = params.start_ms + population_rng.integers(0, params.spread_ms + 1, clients)

    duration = params.duration_ms(REFERENCE_SECONDS)
    clock = UserClock(clock_rng, start, MIN_SLEEP_MS, MAX_SLEEP_MS)
    clock.cover(duration)
    valid = clock.valid(duration)
    event_ms = clock.times[valid]
    client = np.repeat(np.arange(clients, dtype=np.int32), valid.sum(axis=1))
    n = len(event_ms)
    low, high = RESPONSE_MS
    columns: dict[str, np.ndarray] = {
        "client": client,
        "method": (event_rng.random(n) < P_POST).astype(np.int8),
        "url": categorical(event_rng.random(n), URL_PROBABILITIES),
        "code": (event_rng.random(n) < P_NOT_FOUND).astype(np.int8),
        "response_ms": event_rng.integers(low, high + 1, n, dtype=np.int16),
    }
    fields: dict[str, Spec] = {
        "ip": Lookup("client", ips),
        "datetime": event_time(event_ms),
        "method": Lookup("method", METHODS),
        "url": Lookup("url", URLS),
        "responseCode": Lookup("code", CODES),
        "responseTime": int_range("response_ms", low, high),
        "sessionID": Lookup("client", sessions),
    }
    if params.legacy_wire_format:
        order: tuple[str, ...] = (
            "ip",
            "datetime",
            "method",
            "url",
            "responseCode",
            "responseTime",
            "sessionID",
        )
        template = Template([(k, fields[k]) for k in order], HAND_WRITTEN)
    else:
        order = ("ip", "sessionID", "datetime", "method", "url", "responseCode", "responseTime")
        template = Template([(k, fields[k]) for k in order], CORRECTED)
    return ordered_table(
        event_ms,
        columns,
        key_table=[session.encode() for session in sessions],
        key_index=client,
        templates=[template],
        order=time_order(event_ms),
    )
