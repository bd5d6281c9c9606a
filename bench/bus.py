"""Bus throughput: produce (durably) and consume events of a given size, side by side.

    python bench/bus.py [--records 1000000] [--value-bytes 300] [--batch 50000]
                        [--partitions 4] [--fsync interval always never]
                        [--backend local kafka]

For each embedded fsync policy, and for Kafka with acks=all (the broker started by
`stack/kafka start`): events/s appended (from the first send to `close()` returning,
with a `flush()` after every batch, so every record is acknowledged) and events/s
consumed (poll into `RecordBatch`es until every record is read). When both backends
run, the last lines give embedded/Kafka ratios. Embedded data lives in a temporary
directory; Kafka topics live in a namespace of their own and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bdp.bus import Bus
from bdp.bus.local import LocalBus
from bdp.config import BusSettings, KafkaBusSettings, LocalBusSettings

TARGET_PRODUCE = 500_000
TARGET_CONSUME = 1_000_000


def _open_local(root: Path, fsync: str, partitions: int) -> Bus:
    local = LocalBusSettings(fsync=fsync)  # type: ignore[arg-type]
    return LocalBus(root, BusSettings(partitions=partitions, local=local))


def _open_kafka(root: Path, policy: str, partitions: int) -> Bus:
    from bdp.bus.kafka import KafkaBus

    # acks=all with the idempotent producer: the broker's strongest acknowledgement.
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    kafka = KafkaBusSettings(acks="all")
    return KafkaBus(BusSettings(partitions=partitions, namespace=namespace, kafka=kafka))


BACKENDS: dict[str, Callable[[Path, str, int], Bus]] = {
    "local": _open_local,
    "kafka": _open_kafka,
}
"""Backend name -> opener (a scratch directory, a durability policy, partitions)."""
POLICIES = {"kafka": ["acks=all"]}
"""Durability policies of a backend; the embedded bus's are the `--fsync` choices."""


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
    parser.add_argument("--backend", nargs="+", default=list(BACKENDS), choices=sorted(BACKENDS))
    args = parser.parse_args()

    values = make_values(args.records, args.value_bytes)
    megabytes = args.records * args.value_bytes / 1e6
    print(
        f"{args.records:,} events of {args.value_bytes} B ({megabytes:,.0f} MB),"
        f" batches of {args.batch:,}, {args.partitions} partitions"
    )
    header = f"{'backend':<8} {'policy':<9} {'produce ev/s':>13} {'consume ev/s':>13}"
    print(header + f" {'produce/target':>15} {'consume/target':>15}")
    # One untimed pass per backend first so allocator, page-cache and broker warm-up is
    # not billed to the first policy measured.
    warm = values[: max(1, min(len(values), 200_000))]
    for backend in args.backend:
        with tempfile.TemporaryDirectory(prefix="bdp-bench-bus-") as scratch:
            policy = POLICIES.get(backend, ["never"])[0]
            bus = BACKENDS[backend](Path(scratch), policy, args.partitions)
            try:
                bench_produce(bus, "warm", warm, args.batch)
                bench_consume(bus, "warm", len(warm), args.batch)
            finally:
                _drop(bus, "warm")
    rates: dict[tuple[str, str], tuple[float, float]] = {}
    for backend in args.backend:
        for policy in POLICIES.get(backend, args.fsync):
            with tempfile.TemporaryDirectory(prefix="bdp-bench-bus-") as scratch:
                bus = BACKENDS[backend](Path(scratch), policy, args.partitions)
                try:
                    produce_s = bench_produce(bus, "bench", values, args.batch)
                    consume_s = bench_consume(bus, "bench", args.records, args.batch)
                finally:
                    _drop(bus, "bench")
            rates[backend, policy] = (produce_s, consume_s)
            produce_rate = args.records / produce_s
            consume_rate = args.records / consume_s
            print(
                f"{backend:<8} {policy:<9} {produce_rate:>13,.0f} {consume_rate:>13,.0f}"
                f" {produce_rate / TARGET_PRODUCE:>14.2f}x {consume_rate / TARGET_CONSUME:>14.2f}x"
            )
    kafka = rates.get(("kafka", "acks=all"))
    for (backend, policy), (produce_s, consume_s) in rates.items():
        if backend == "kafka" or kafka is None:
            continue
        print(
            f"embedded {policy} / kafka acks=all:"
            f" produce {kafka[0] / produce_s:.2f}x, consume {kafka[1] / consume_s:.2f}x,"
            f" produce+consume {(kafka[0] + kafka[1]) / (produce_s + consume_s):.2f}x"
        )


def _drop(bus: Bus, topic: str) -> None:
    """Delete a topic on a shared bus (scratch directories go by themselves), then close."""
    try:
        if bus.capabilities.shared and topic in bus.topics():
            bus.delete_topic(topic)
    finally:
        bus.close()


if __name__ == "__main__":
    main()
