"""Shared draws: the simulated clock, ordering and segment sums."""

from __future__ import annotations

import numpy as np

from bdp.simulate.draw import UserClock, categorical, segment_cumsum, time_order


def test_clock_sleeps_min_plus_a_uniform_share_of_max_before_each_iteration():
    start = np.array([1_000, 5_000, 9_000], dtype=np.int64)
    clock = UserClock(np.random.default_rng(3), start, min_ms=50, max_ms=9_000)
    clock.cover(600_000)
    gaps = np.diff(np.concatenate([start[:, None], clock.times], axis=1), axis=1)
    assert gaps.min() >= 50 and gaps.max() < 50 + 9_000
    assert (clock.times[:, -1] - start >= 600_000).all()


def test_duration_is_checked_before_the_sleep():
    start = np.zeros(200, dtype=np.int64)
    clock = UserClock(np.random.default_rng(4), start, min_ms=100, max_ms=18_000)
    clock.cover(60_000)
    valid = clock.valid(60_000)
    assert valid[:, 0].all()
    last = valid.sum(axis=1) - 1
    end = clock.times[np.arange(200), last]
    before = np.where(last > 0, clock.times[np.arange(200), np.maximum(last - 1, 0)], 0)
    assert (before < 60_000).all() and (end >= 60_000).all()  # the last one overshoots
    assert (end < 60_000 + 18_100).all()


def test_growing_only_some_users_keeps_the_others():
    start = np.zeros(3, dtype=np.int64)
    clock = UserClock(np.random.default_rng(5), start, min_ms=10, max_ms=100, uniforms=1)
    clock.cover(1_000)
    before = clock.times.copy()
    clock.cover(np.array([1_000, 5_000, 1_000]))
    assert (clock.times[:, : before.shape[1]] == before).all()
    assert clock.times[1, -1] >= 5_000
    assert clock.uniforms[0].shape == clock.times.shape


def test_time_order_is_a_stable_sort():
    rng = np.random.default_rng(6)
    times = rng.integers(0, 50_000, 100_000) + 1_700_000_000_000  # plenty of ties
    assert (time_order(times) == np.argsort(times, kind="stable")).all()
    wide = times.copy()
    wide[::10] += 1 << 33  # a span past 32 bits takes the general sort
    assert (time_order(wide) == np.argsort(wide, kind="stable")).all()


def test_segment_cumsum_restarts_per_segment():
    values = np.array([1, 0, 1, 1, 1, 0, 1])
    counts = np.array([3, 0, 2, 2])
    assert segment_cumsum(values, counts).tolist() == [1, 1, 2, 1, 2, 0, 1]


def test_categorical_rates():
    u = np.random.default_rng(7).random(400_000)
    counts = np.bincount(categorical(u, (0.5, 0.3, 0.2)), minlength=3) / len(u)
    assert np.allclose(counts, (0.5, 0.3, 0.2), atol=5 * np.sqrt(0.25 / len(u)))
