"""Simulator throughput: events generated and serialised per second, per dataset.

Scales each dataset's population (and, where IPs run out, its session length) to about
`--events` events, then times drawing the session and rendering every block to JSON
bytes, best of `--repeat` runs. The ratio is against the 1,000,000 events/s target.

    python bench/simulate.py [--events 2000000] [--repeat 3] [--legacy] [dataset ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import time

from bdp.simulate import SIMULATORS, SimulationParams, simulate_table
from bdp.simulate.texts import MAX_IP_USERS

TARGET = 1_000_000
START_MS = 1_713_225_600_000
REFERENCE = {  # users and minutes of the reference session, and whether users need IPs
    "gamelogs": (100, None, True),
    "hotellogs": (200, 60.0, True),
    "lostarklogs": (96, 60.0, True),
    "adlogs": (4000, 60.0, False),
    "weblogs": (15, 5.0, True),
}


def scaled_params(dataset: str, events: int, legacy: bool) -> SimulationParams:
    """The reference session scaled to about `events` events (seed 0 as the yardstick)."""
    users, minutes, needs_ip = REFERENCE[dataset]
    probe = simulate_table(dataset, SimulationParams(start_ms=START_MS, users=users * 20))
    scaled_users = math.ceil(users * 20 * events / max(len(probe), 1))
    longer = None
    if needs_ip and scaled_users > MAX_IP_USERS and minutes is not None:
        longer = minutes * scaled_users / (MAX_IP_USERS // 2)  # fewer users, longer sessions
        scaled_users = MAX_IP_USERS // 2
    return SimulationParams(
        start_ms=START_MS, users=scaled_users, minutes=longer, legacy_wire_format=legacy
    )


def measure(params: SimulationParams, dataset: str) -> tuple[int, float, float]:
    started = time.perf_counter()
    table = simulate_table(dataset, params)
    drawn = time.perf_counter()
    count = 0
    for block in table.blocks(100_000):
        count += len(block.values)
    return count, drawn - started, time.perf_counter() - drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=list(SIMULATORS))
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--legacy", action="store_true", help="legacy wire format")
    args = parser.parse_args()

    wire = "legacy" if args.legacy else "corrected"
    print(f"{wire} wire format, best and median of {args.repeat} runs (seeds 0..)")
    print(
        f"{'dataset':<12} {'events':>9} {'draw s':>7} {'render s':>8} {'best ev/s':>11}"
        f" {'median ev/s':>11}  best/target"
    )
    for dataset in args.datasets:
        scaled = scaled_params(dataset, args.events, args.legacy)
        runs = []
        for seed in range(args.repeat):
            count, draw_s, render_s = measure(dataclasses.replace(scaled, seed=seed), dataset)
            runs.append((count / (draw_s + render_s), count, draw_s, render_s))
        runs.sort()
        rate, count, draw_s, render_s = runs[-1]
        median = statistics.median(r[0] for r in runs)
        print(
            f"{dataset:<12} {count:>9,} {draw_s:>7.2f} {render_s:>8.2f} {rate:>11,.0f}"
            f" {median:>11,.0f}  {rate / TARGET:.2f}x"
        )


if __name__ == "__main__":
    main()
