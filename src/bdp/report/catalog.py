"""The report's layout: which sections it has, their tables, key figures and charts.

Section keys are dataset names, so the demo's per-dataset summary and the sections line
up; the overview section spans every dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

from bdp.report.charts import activity, ads, game, hotel, raid, web
from bdp.report.charts.base import ChartSpec

__all__ = ["SECTIONS", "KeyFigure", "Section", "all_tables"]


@dataclass(frozen=True)
class KeyFigure:
    """One number of the day: `expression` aggregated over `table`'s rows for the day."""

    label: str
    table: str
    expression: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    tables: tuple[str, ...]
    """Tables whose row counts for the day head the section."""
    charts: tuple[ChartSpec, ...]
    figures: tuple[KeyFigure, ...] = ()


SECTIONS: tuple[Section, ...] = (
    Section("overview", "All datasets", (), activity.CHARTS),
    Section(
        "gamelogs",
        "LoL game log",
        ("lol_analysis_log", "lol_training_log"),
        game.CHARTS,
        (
            KeyFigure("rooms", "lol_analysis_log", "COUNT(DISTINCT roomID)"),
            KeyFigure("players", "lol_analysis_log", "COUNT(DISTINCT account)"),
            KeyFigure("champions", "lol_analysis_log", "COUNT(DISTINCT champion)"),
            KeyFigure("rows labelled 1", "lol_training_log", "SUM(label)"),
        ),
    ),
    Section(
        "hotellogs",
        "Hotel web log",
        ("hotel_analysis_log", "hotel_gender_daily"),
        hotel.CHARTS,
        (
            KeyFigure("users", "hotel_analysis_log", "COUNT(DISTINCT account)"),
            KeyFigure("bookings", "hotel_gender_daily", "SUM(bookings)"),
            KeyFigure("refunds", "hotel_gender_daily", "SUM(refunds)"),
        ),
    ),
    Section(
        "lostarklogs",
        "Lost Ark raid log",
        ("lostark_analysis_log", "lostark_room_results"),
        raid.CHARTS,
        (
            KeyFigure("rooms", "lostark_room_results", "COUNT(*)"),
            KeyFigure("players", "lostark_analysis_log", "COUNT(DISTINCT User_account)"),
            KeyFigure(
                "rooms cleared",
                "lostark_room_results",
                "SUM(CASE WHEN room_success = 1 THEN 1 ELSE 0 END)",
            ),
        ),
    ),
    Section(
        "adlogs",
        "Ad log",
        ("ad_analysis_logs", "ad_view_totals", "ad_click_totals", "ad_gender_view_totals"),
        ads.CHARTS,
        (
            KeyFigure("ads", "ad_analysis_logs", "COUNT(DISTINCT ad_id)"),
            KeyFigure("viewers", "ad_analysis_logs", "COUNT(DISTINCT account)"),
            KeyFigure("clicks", "ad_click_totals", "SUM(total_click_count)"),
        ),
    ),
    Section(
        "weblogs",
        "Web access log",
        ("weblog_access_log", "weblog_url_daily"),
        web.CHARTS,
        (
            KeyFigure("sessions", "weblog_access_log", "COUNT(DISTINCT sessionID)"),
            KeyFigure("URLs", "weblog_url_daily", "COUNT(*)"),
            KeyFigure("errors", "weblog_url_daily", "SUM(errors)"),
        ),
    ),
)


def all_tables() -> list[str]:
    """Every table the report reads, each once, in section order."""
    tables: dict[str, None] = {}
    for section in SECTIONS:
        tables.update(dict.fromkeys(section.tables))
    tables.update(dict.fromkeys(activity.ACTIVITY_TABLES.values()))
    return list(tables)
