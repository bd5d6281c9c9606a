"""Bus throughput: produce (durably) and consume events of a given size, side by side.

    python bench/bus.py [--records 1000000] [--value-bytes 300] [--batch 50000]
                        [--partitions 4] [--fsync interval always never]

For each fsync policy: events/s appended (from the first send to `close()` returning,
which fsyncs whatever the policy still owes) and events/s consumed (poll into
`RecordBatch`es until every record is read). All data lives in a temporary directory.
Only the embedded bus is measured for now; a distributed backend plugs in through
`BACKENDS` (each entry opens a bus for a scratch directory and policy).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bdp.bus import Bus
from bdp.bus.local import LocalBus
from bdp.config import BusSettings

TARGET_PRODUCE = 500_000
TARGET_CONSUME = 1_000_000


def _open_local(root: Path, fsync: str, partitions: int) -> Bus:
    return LocalBus(root, BusSettings(fsync=fsync, partitions=partitions))  # type: ignore[arg-type]


BACKENDS: dict[str, Callable[[Path, str, int], Bus]] = {"local": _open_local}
"""Backend name -> opener. A Kafka entry goes here once that backend exists."""


def make_values(count: int, size: int) -> list[bytes]:
    """Distinct JSON-like events of exactly `size` bytes (a varying head on a fixed body)."""
    rng = np.random.default_rng(7)
    pad = bytes(rng.integers(97, 123, size, dtype=np.uint8))
    return [(b'{"seq":%d,"p":"' % i + pad)[: size - 2] + b'"}' for i in range(count)]


def bench_produce(bus: Bus, topic: str, values: list[bytes], batch: int) -> float:
    base_ms = time.time_ns() // 1_000_000
    timestamps = base_ms + np.arange(len(values), dtype=np.int64) // 1000
    started = time.perf_counter()
    with bus.producer() as producer:
        for i in range(0, len(values), batch):
            producer.send_batch(
                topic, values[i : i + batch], timestamps_ms=timestamps[i : i + batch]
            )
            producer.flush()
    return time.perf_counter() - started


def bench_consume(bus: Bus, topic: str, expected: int, batch: int) -> float:
    started = time.perf_counter()
    seen = 0
    with bus.consumer("bench", topic) as consumer:
        while seen < expected:
            for record_batch in consumer.poll(batch, timeout_ms=1000):
                seen += len(record_batch)
    elapsed = time.perf_counter() - started
    if seen != expected:
        raise SystemExit(f"consumed {seen} records, expected {expected}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--value-bytes", type=int, default=300)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--fsync",
        nargs="+",
        default=["interval", "always"],
        choices=["always", "interval", "never"],
    )
    parser.add_argument("--backend", nargs="+", default=sorted(BACKENDS), choices=sorted(BACKENDS))
    args = parser.parse_args()

    values = make_values(args.records, args.value_bytes)
    megabytes = args.records * args.value_bytes / 1e6
    print(
        f"{args.records:,} events of {args.value_bytes} B ({megabytes:,.0f} MB),"
        f" batches of {args.batch:,}, {args.partitions} partitions"
    )
    header = f"{'backend':<8} {'fsync':<9} {'produce ev/s':>13} {'consume ev/s':>13}"
    print(header + f" {'produce/target':>15} {'consume/target':>15}")
    # One untimed pass first so allocator and page-cache warm-up is not billed to the
    # first policy measured.
    warm = values[: max(1, min(len(values), 200_000))]
    with tempfile.TemporaryDirectory(prefix="bdp-bench-bus-") as scratch:
        bus = BACKENDS[args.backend[0]](Path(scratch), "never", args.partitions)
        bench_produce(bus, "warm", warm, args.batch)
        bench_consume(bus, "warm", len(warm), args.batch)
        bus.close()
    for backend in args.backend:
        for fsync in args.fsync:
            with tempfile.TemporaryDirectory(prefix="bdp-bench-bus-") as scratch:
                bus = BACKENDS[backend](Path(scratch), fsync, args.partitions)
                produce_s = bench_produce(bus, "bench", values, args.batch)
                consume_s = bench_consume(bus, "bench", args.records, args.batch)
                bus.close()
            produce_rate = args.records / produce_s
            consume_rate = args.records / consume_s
            print(
                f"{backend:<8} {fsync:<9} {produce_rate:>13,.0f} {consume_rate:>13,.0f}"
                f" {produce_rate / TARGET_PRODUCE:>14.2f}x {consume_rate / TARGET_CONSUME:>14.2f}x"
            )


if __name__ == "__main__":
    main()
