"""The Fluentd forward-protocol collector: `fluent-logger`, Fluentd's `out_forward` and
Fluent Bit send records over TCP; they land on the bus and are acknowledged once durable.
"""

from __future__ import annotations

from bdp.collect.forward.server import ForwardCollector

__all__ = ["ForwardCollector"]
