"""The embedded bus: a durable, multi-process-safe log on the local disk (`bus.py`).

Files by role: `bus.py` the `Bus`; `producer.py` / `consumer.py` its clients;
`appender.py` writes a partition, `reader.py` reads one; `segment.py` and `frame.py`
the on-disk format; `records.py` producer input; `topics.py` and `groups.py` the topic
settings and committed offsets.
"""

from bdp.bus.local.bus import LocalBus

__all__ = ["LocalBus"]
