"""Stream job throughput: bus → lake raw zone, validated and partitioned by event date.

Fills an embedded bus with simulated game events (the corrected wire format), then
times `EmbeddedStreamJob.run(until_idle=True)` and prints events/s against the 300,000/s target,
with the bus read alone measured in the same run for comparison.

    python bench/stream.py --events 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bdp.bus import open_bus
from bdp.clock import day_start_ms
from bdp.config import load_settings
from bdp.lake import open_lake
from bdp.simulate import SimulationParams, reference_users, send_events, simulate
from bdp.stream.embedded import EmbeddedStreamJob

TARGET = 300_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dataset", default="gamelogs")
    parser.add_argument("--compression", default="zstd", choices=["zstd", "gzip", "none"])
    parser.add_argument(
        "--workers", default="1,2", help="comma-separated worker counts, each timed in turn"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(
            home=Path(home),
            environ={"BDP_LAKE__RAW_COMPRESSION": args.compression},
        )
        import datetime as dt

        start = day_start_ms(dt.date(2024, 4, 16), settings.tz, dt.time(12))
        # Scale the population until the session yields about the requested count.
        users = reference_users(args.dataset)
        with open_bus(settings) as bus:
            bus.create_topic(args.dataset)
            produced = 0
            seed = 0
            with bus.producer() as producer:
                while produced < args.events:
                    params = SimulationParams(start_ms=start, seed=seed, users=users * 10)
                    produced += send_events(producer, args.dataset, simulate(args.dataset, params))
                    seed += 1

            began = time.perf_counter()
            with bus.consumer("bench-read", args.dataset) as consumer:
                read = 0
                while batches := consumer.poll(settings.stream.batch_records):
                    read += sum(len(b) for b in batches)
            read_seconds = time.perf_counter() - began

        print(f"events                 {produced:,} ({args.dataset}, {args.compression})")
        print(f"bus read alone         {read / read_seconds:,.0f} events/s")
        for workers in (int(w) for w in args.workers.split(",")):
            # Each run lands the whole topic again under its own group and lake.
            run = settings.model_copy(
                update={"lake": settings.lake.model_copy(update={"url": f"{home}/lake-{workers}"})}
            )
            began = time.perf_counter()
            stats = EmbeddedStreamJob(
                run, open_lake(run), [args.dataset], group=f"bench-{workers}", workers=workers
            ).run(until_idle=True)
            seconds = time.perf_counter() - began
            landed = stats[args.dataset].landed
            assert landed == produced == read, (landed, produced, read)
            rate = landed / seconds
            print(
                f"stream job, {workers} worker{'s' if workers > 1 else ' '}  {rate:,.0f} events/s "
                f"({seconds:.2f} s, {rate / TARGET:.2f}x of the {TARGET:,}/s target)"
            )


if __name__ == "__main__":
    main()
