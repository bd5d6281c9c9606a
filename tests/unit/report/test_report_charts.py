"""Pure pieces of the charts: champion panels, ad labels, timestamp handling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from bdp.report.charts import activity, ads, game
from bdp.report.context import ChartContext, probe_tables
from bdp.report.style import to_datetime64


def _panel_rows(spreads: dict[str, int]) -> pa.Table:
    rng = np.random.default_rng(1)
    champions, times, xy = [], [], []
    for champion, spread in spreads.items():
        for second in range(50):
            champions.append(champion)
            times.append(datetime(2024, 4, 16, 0, 0, second))
            xy.append(int(rng.integers(-spread, spread + 1)))
    return pa.table({"champion": champions, "datetime": times, "xy": xy})


def test_one_panel_per_champion_sorted_and_the_wide_one_flagged() -> None:
    rows = _panel_rows({"ryze": 800, "viktor": 6000, "azir": 800, "vex": 800})
    panels = game.champion_panels(rows)
    assert [p.champion for p in panels] == ["azir", "ryze", "vex", "viktor"]
    assert [p.events for p in panels] == [50, 50, 50, 50]
    assert [p.champion for p in panels if p.wide] == ["viktor"]


def test_no_champion_is_flagged_when_all_spread_alike() -> None:
    panels = game.champion_panels(_panel_rows({"a": 800, "b": 800, "c": 800}))
    assert not any(p.wide for p in panels)


def test_scatter_draws_one_panel_per_champion_of_the_day(
    query: Callable[[str], pa.Table], day: date, day_champions: tuple[str, ...]
) -> None:
    ctx = ChartContext(query, day, probe_tables(query, day, ["lol_analysis_log"]))
    spec = next(s for s in game.CHARTS if s.name == "lol_champion_scatter")
    fig = spec.render(ctx)
    titles = [ax.get_title().split()[0] for ax in fig.axes if ax.get_visible()]
    assert titles == sorted(day_champions)  # the other day's champion has no panel
    assert any("viktor" in note for note in ctx.notes)


def test_ad_labels_use_names_when_the_font_can_draw_them() -> None:
    labels, note = ads.ad_labels(["c41d7e93-08b2", "a0b1c2d3-0000"], ["로스트아크", "야놀자"], True)
    assert labels == ["로스트아크", "야놀자"] and note is None


def test_ad_labels_fall_back_to_id_prefixes_with_a_mapping_note() -> None:
    labels, note = ads.ad_labels(["c41d7e93-08b2", None], ["로스트아크", None], False)
    assert labels == ["c41d7e93", "?"]
    assert note is not None and "c41d7e93 = 로스트아크" in note


def test_timestamps_become_naive_utc_whatever_their_type() -> None:
    zoned = pa.array(
        [datetime(2024, 4, 16, 0, 30, tzinfo=UTC)], pa.timestamp("us", tz="Asia/Seoul")
    )
    text = pa.array(["2024-04-16T00:30:00.000Z"])
    expected = np.array(["2024-04-16T00:30:00.000"], dtype="datetime64[ms]")
    assert (to_datetime64(zoned) == expected).all()
    assert (to_datetime64(text) == expected).all()


def test_short_runs_get_five_minute_buckets_and_long_ones_hourly() -> None:
    first = np.datetime64("2024-04-16T09:00", "m")
    assert activity.bucket_minutes(first, first + np.timedelta64(40, "m")) == 5
    assert activity.bucket_minutes(first, first + np.timedelta64(5, "h")) == 60


def test_buckets_sum_minutes_and_keep_empty_buckets_as_zero() -> None:
    minutes = np.array(["2024-04-16T09:01", "2024-04-16T09:04", "2024-04-16T09:17"], "M8[m]")
    starts, totals = activity.bucket_counts(minutes, np.array([3.0, 2.0, 7.0]), 5)
    assert (
        starts.tolist()
        == np.array(
            ["2024-04-16T09:00", "2024-04-16T09:05", "2024-04-16T09:10", "2024-04-16T09:15"],
            "M8[m]",
        ).tolist()
    )
    assert totals.tolist() == [5.0, 0.0, 0.0, 7.0]
