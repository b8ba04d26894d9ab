"""The waits between attempts to reach Discord at start: exponential, capped, jittered."""

from __future__ import annotations

from bot.__main__ import RETRY_CAP, RETRY_FIRST, retry_delay


def test_the_wait_doubles_up_to_the_cap() -> None:
    longest = [retry_delay(n, rng=lambda: 1.0) for n in range(1, 10)]
    assert RETRY_FIRST == 1.0 and RETRY_CAP == 60.0
    assert longest == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_delay(100_000, rng=lambda: 1.0) == RETRY_CAP  # no overflow, however long


def test_half_of_each_wait_is_random() -> None:
    for attempt in range(1, 10):
        longest = retry_delay(attempt, rng=lambda: 1.0)
        assert retry_delay(attempt, rng=lambda: 0.0) == longest / 2
        assert retry_delay(attempt, rng=lambda: 0.5) == longest * 3 / 4
    drawn = {retry_delay(4) for _ in range(50)}
    assert len(drawn) > 1  # bots restarted together spread out
    assert all(4 <= d <= 8 for d in drawn)
