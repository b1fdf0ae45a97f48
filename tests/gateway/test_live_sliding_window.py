"""The sliding window forgets by count and by age, and reads percentiles and means."""

from __future__ import annotations

import pytest

from gateway.live.sliding_window import SlidingWindow


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.95, 7.0),
        ([float(v) for v in range(10, 210, 10)], 0.50, 110.0),  # 20 values: rank floor(10) -> the 11th
        ([float(v) for v in range(10, 210, 10)], 0.95, 200.0),
        ([float(v) for v in range(1, 101)], 0.95, 96.0),
        ([5.0, 1.0, 3.0], 0.0, 1.0),
        ([5.0, 1.0, 3.0], 1.0, 5.0),
    ],
)
def test_percentile_is_the_value_at_rank_floor_fraction_times_n(values, fraction, expected):
    window = SlidingWindow(max_samples=1000, max_age_s=60)
    for value in values:
        window.add(value, now=0.0)
    assert window.percentile(fraction, now=0.0) == expected


def test_only_the_last_max_samples_are_kept():
    window = SlidingWindow(max_samples=3, max_age_s=60)
    for value in (1.0, 2.0, 3.0, 4.0, 5.0):
        window.add(value, now=0.0)
    assert window.values(now=0.0) == [3.0, 4.0, 5.0]
    assert window.mean(now=0.0) == 4.0


@pytest.mark.parametrize(("now", "expected"), [(60.0, [1.0, 2.0, 3.0]), (70.5, [2.0, 3.0]), (200.0, [])])
def test_observations_older_than_max_age_are_forgotten(now, expected):
    window = SlidingWindow(max_samples=10, max_age_s=60)
    for at, value in ((0.0, 1.0), (20.0, 2.0), (40.0, 3.0)):
        window.add(value, now=at)
    assert window.values(now) == expected
    assert window.percentile(0.5, now) == (expected[len(expected) // 2] if expected else None)


def test_mean_of_an_empty_window_is_unknown_not_zero():
    assert SlidingWindow().mean(now=0.0) is None
