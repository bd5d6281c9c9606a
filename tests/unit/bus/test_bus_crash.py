"""kill -9 at random moments: acknowledged records survive, exactly once, densely."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bdp.bus.local import LocalBus
from bdp.bus.local.groups import GROUPS_DIR
from bdp.config import BusSettings

TOPIC = "crashy"
PARTITIONS = 2
KILLS = 10

PRODUCER_CHILD = r"""
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from bdp.bus.local import LocalBus
from bdp.config import BusSettings, LocalBusSettings

root, run, fsync = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
local = LocalBusSettings(segment_bytes=16 << 20, fsync=fsync)
bus = LocalBus(root, BusSettings(partitions=2, local=local))
producer = bus.producer()
WIDTH = 160
seq = 0
while True:
    # Big batches built with numpy, so most of the child's time goes to writing them.
    size = (1 + seq % 5) * 12_000
    numbers = np.arange(seq, seq + size)
    rows = np.full((size, WIDTH), ord("p"), np.uint8)
    rows[:, 0:3] = np.frombuffer(b"%02d:" % run, np.uint8)[:3]
    for digit in range(10):
        rows[:, 12 - digit] = 48 + (numbers // 10**digit) % 10
    rows[:, 13] = ord(":")
    offsets = np.arange(0, (size + 1) * WIDTH, WIDTH, dtype=np.int32)
    values = pa.Array.from_buffers(
        pa.binary(), size, [None, pa.py_buffer(offsets), pa.py_buffer(rows)]
    )
    producer.send_batch("crashy", values)
    producer.flush()
    seq += size
    # Only now is the batch acknowledged.
    sys.stdout.write(f"{seq}\n")
    sys.stdout.flush()
"""

CONSUMER_CHILD = r"""
import sys
from pathlib import Path
from bdp.bus.local import LocalBus

bus = LocalBus(Path(sys.argv[1]))
with bus.consumer("crash-group", "crashy") as consumer:
    while batches := consumer.poll(997):
        consumer.commit({b.partition: b.last_offset + 1 for b in batches})
        sys.stdout.write(" ".join(f"{b.partition}={b.last_offset + 1}" for b in batches) + "\n")
        sys.stdout.flush()
"""


def start_child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, bufsize=1
    )


def kill_after(child: subprocess.Popen[str], lines: int, rng: np.random.Generator) -> list[str]:
    """Read `lines` acknowledgements, SIGKILL the child at a random moment of its next
    batch, return every line it wrote."""
    assert child.stdout is not None
    seen = []
    while len(seen) < lines:
        line = child.stdout.readline()
        if not line:
            break
        seen.append(line)
    # Not a synchronisation: a random delay so kills land anywhere in build/encode/write.
    time.sleep(rng.uniform(0, 0.03))
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    seen.extend(child.stdout.readlines())  # written before the kill: acknowledged too
    child.stdout.close()
    return [line.strip() for line in seen if line.strip()]


@pytest.mark.slow
def test_acknowledged_records_survive_kill_9_of_the_producer(tmp_path: Path) -> None:
    root = tmp_path / "bus"
    rng = np.random.default_rng(2024)
    acknowledged: dict[int, int] = {}
    policies = ["never", "interval", "always"]
    for run in range(KILLS):
        child = start_child(PRODUCER_CHILD, str(root), str(run), policies[run % 3])
        lines = kill_after(child, int(rng.integers(1, 6)), rng)
        assert child.returncode == -signal.SIGKILL
        acknowledged[run] = int(lines[-1]) if lines else 0
    assert sum(acknowledged.values()) > 0

    bus = LocalBus(root, BusSettings(partitions=PARTITIONS))
    present: dict[int, list[int]] = {run: [] for run in range(KILLS)}
    offsets: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    ends = bus.end_offsets(TOPIC)
    with bus.consumer("checker", TOPIC) as consumer:
        while batches := consumer.poll(100_000):
            for batch in batches:
                offsets[batch.partition].extend(batch.offsets.tolist())
                for value in batch.values:
                    run, seq, pad = value.split(b":")
                    assert pad == b"p" * 146
                    present[int(run)].append(int(seq))
    for partition, seen in offsets.items():
        assert seen == list(range(ends[partition]))
    for run, seqs in present.items():
        # Every acknowledged record exactly once; what else is there is the next whole
        # batches (written, not yet acknowledged when the kill came), never a fragment.
        assert len(seqs) == len(set(seqs)), f"run {run} has duplicates"
        assert sorted(seqs) == list(range(len(seqs))), f"run {run} has a hole"
        assert len(seqs) >= acknowledged[run], f"run {run} lost acknowledged records"


@pytest.mark.slow
def test_offsets_stay_dense_per_partition_after_kills(tmp_path: Path) -> None:
    root = tmp_path / "bus"
    rng = np.random.default_rng(7)
    for run in range(KILLS):
        child = start_child(PRODUCER_CHILD, str(root), str(run), "never")
        kill_after(child, int(rng.integers(1, 4)), rng)
        bus = LocalBus(root, BusSettings(partitions=PARTITIONS))
        for partition in range(PARTITIONS):
            with bus.consumer("dense", TOPIC, partitions=[partition]) as consumer:
                offsets: list[int] = []
                while batches := consumer.poll(100_000):
                    offsets.extend(o for b in batches for o in b.offsets.tolist())
            assert offsets == list(range(bus.end_offsets(TOPIC)[partition]))


@pytest.mark.slow
def test_commits_survive_kill_9_of_the_consumer(tmp_path: Path) -> None:
    root = tmp_path / "bus"
    bus = LocalBus(root, BusSettings(partitions=PARTITIONS))
    with bus.producer() as producer:
        for b in range(40):
            producer.send_batch(TOPIC, [b"%d" % (b * 2500 + i) for i in range(2500)])
    ends = bus.end_offsets(TOPIC)
    rng = np.random.default_rng(5)
    last: dict[int, int] = {}
    for _ in range(KILLS):
        lines = kill_after(start_child(CONSUMER_CHILD, str(root)), int(rng.integers(1, 20)), rng)
        for line in lines:
            for pair in line.split():
                partition, offset = map(int, pair.split("="))
                assert offset >= last.get(partition, 0)
                last[partition] = offset
        committed = bus.committed("crash-group", TOPIC)
        for partition, offset in last.items():
            stored = committed[partition]
            assert stored is not None and offset <= stored <= ends[partition]
        for name in os.listdir(root / GROUPS_DIR):
            if name.endswith(".json"):
                json.loads((root / GROUPS_DIR / name).read_text())
    assert last, "the consumer never got to commit"
