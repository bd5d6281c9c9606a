"""Simulators of the reference platform's event sources (SCENARIOS §2–§7).

`simulate(dataset, params)` draws a whole session on a simulated clock and yields its
events in event-time order as ready-to-send JSON blocks; `send_events` puts them on the
bus, at once or in real time; `send_session` sends a session once, however often it is
run. Output is deterministic for a seed.
"""

from bdp.simulate.base import EventBlock, EventTable, SimulationParams
from bdp.simulate.generate import SIMULATORS, reference_users, simulate, simulate_table
from bdp.simulate.options import (
    BOSSES,
    CHAMPIONS,
    AdOptions,
    Boss,
    GameOptions,
    HotelOptions,
    RaidOptions,
)
from bdp.simulate.send import SentSession, send_events, send_session, session_group

__all__ = [
    "BOSSES",
    "CHAMPIONS",
    "SIMULATORS",
    "AdOptions",
    "Boss",
    "EventBlock",
    "EventTable",
    "GameOptions",
    "HotelOptions",
    "RaidOptions",
    "SentSession",
    "SimulationParams",
    "reference_users",
    "send_events",
    "send_session",
    "session_group",
    "simulate",
    "simulate_table",
]
