"""Per-dataset knobs of the simulators, with the reference's values as defaults.

Only what SCENARIOS asks to be configurable lives here (the suspicious champions of the
LoL log, the boss table of the raid log, the ad campaign dates, ...); the scenario
rules themselves stay constants of each simulator module.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

__all__ = [
    "BOSSES",
    "CHAMPIONS",
    "AdOptions",
    "Boss",
    "GameOptions",
    "HotelOptions",
    "RaidOptions",
]

CHAMPIONS = (
    "azir",
    "viktor",
    "orianna",
    "vex",
    "ryze",
    "ahri",
    "syndra",
    "taliyah",
    "xerath",
    "malzahar",
    "anivia",
    "sylas",
    "aurelion sol",
    "lux",
    "vladimir",
    "neeko",
    "zilean",
)
"""The README's 17-champion roster, correctly spelled (the fix for L1)."""


@dataclass(frozen=True)
class GameOptions:
    """LoL game log (SCENARIOS §3, fixes L1–L4)."""

    room_size: int = 10
    roster: tuple[str, ...] = CHAMPIONS
    suspicious_champions: tuple[str, ...] = ("viktor",)
    suspicious_per_room: int = 1
    """Players per room who play a suspicious champion and move by the wide rule."""
    suspicious_wide_probability: float = 0.30
    suspicious_wide_range: int = 3000
    """Suspicious players' wide draws are U{-range..range} per axis."""

    def validate(self) -> None:
        if self.room_size < 1:
            raise ValueError(f"room_size must be at least 1, got {self.room_size}")
        if not self.suspicious_champions and self.suspicious_per_room > 0:
            raise ValueError("suspicious_per_room > 0 needs at least one suspicious champion")
        if not 0 <= self.suspicious_per_room <= self.room_size:
            raise ValueError(
                f"suspicious_per_room must be in 0..{self.room_size}, "
                f"got {self.suspicious_per_room}"
            )
        others = [c for c in dict.fromkeys(self.roster) if c not in self.suspicious_champions]
        if self.room_size - self.suspicious_per_room > len(others):
            raise ValueError(
                f"{self.room_size - self.suspicious_per_room} players per room need distinct "
                f"champions but the roster has only {len(others)} non-suspicious ones"
            )
        if not 0 <= self.suspicious_wide_probability <= 1:
            raise ValueError("suspicious_wide_probability must be within [0, 1]")
        if self.suspicious_wide_range < 400:
            raise ValueError("suspicious_wide_range must be at least the normal range (400)")


@dataclass(frozen=True)
class HotelOptions:
    """Hotel log (SCENARIOS §4): the booking and refund rates of the state rules."""

    female_booking_probability: float = 0.06
    refund_probability: float = 0.02

    def validate(self) -> None:
        for name in ("female_booking_probability", "refund_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within [0, 1]")


@dataclass(frozen=True)
class Boss:
    name: str
    item_level: int
    end_seconds: int
    """Time limit (`Boss.endTime`): a player alive past it clears the raid."""


BOSSES = (
    Boss("Valtan", 1800, 600),
    Boss("Biackiss", 1800, 600),
    Boss("Kouku-Saton", 1800, 600),
    Boss("Abrelshud", 2100, 900),
    Boss("Illiakan", 2400, 600),
    Boss("Kamen", 2700, 1200),
)
"""[A] item levels with the code's time limits (SCENARIOS §5.1, R2)."""


@dataclass(frozen=True)
class RaidOptions:
    """Lost Ark raid log (SCENARIOS §5, fixes R1–R3, G7)."""

    room_size: int = 8
    bosses: tuple[Boss, ...] = BOSSES
    death_probability: float = 0.005
    """Per non-wait event, for every boss ([A])."""
    tz: str = "UTC"
    """Platform zone of the legacy format's zone-less `startTime`."""

    def validate(self) -> None:
        if self.room_size < 1:
            raise ValueError(f"room_size must be at least 1, got {self.room_size}")
        if not self.bosses:
            raise ValueError("the boss table is empty")
        if not 0 <= self.death_probability <= 1:
            raise ValueError("death_probability must be within [0, 1]")
        if any(boss.end_seconds < 0 for boss in self.bosses):
            raise ValueError("a boss time limit is negative")
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc


@dataclass(frozen=True)
class AdOptions:
    """Ad log (SCENARIOS §6, fix A1). Campaign dates default to the simulated day ∓ 14."""

    campaign_start: _dt.date | None = None
    campaign_end: _dt.date | None = None

    def campaign(self, day: _dt.date) -> tuple[_dt.date, _dt.date]:
        start = self.campaign_start or day - _dt.timedelta(days=14)
        end = self.campaign_end or day + _dt.timedelta(days=14)
        if end < start:
            raise ValueError(f"ad campaign ends ({end}) before it starts ({start})")
        return start, end
