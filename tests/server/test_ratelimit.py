"""Moving-window rate limit over the injected clock (the ``limits`` strategy on a clocked storage)."""

from __future__ import annotations

import pytest

from scout_jupyter.errors import ConfigError, RateLimited
from scout_jupyter.server.ratelimit import ClockMemoryStorage, RateLimiter


def test_eleventh_request_in_a_minute_is_refused_with_whole_seconds(fake_clock):
    limiter = RateLimiter("10/minute", fake_clock)
    for _ in range(10):
        limiter.hit("alice")
        fake_clock.advance(1)
    with pytest.raises(RateLimited) as caught:
        limiter.hit("alice")
    # the first hit was 10 s ago: it leaves the window in 50 s
    assert caught.value.retry_after == 51
    assert isinstance(caught.value.retry_after, int)


def test_window_moves_rather_than_resetting(fake_clock):
    limiter = RateLimiter("10/minute", fake_clock)
    fake_clock.advance(59)
    for _ in range(10):
        limiter.hit("alice")
    fake_clock.advance(1)  # t = 60: a fixed window would have reset here
    with pytest.raises(RateLimited):
        limiter.hit("alice")
    fake_clock.advance(59)  # t = 119: the ten hits at t = 59 are still inside [59, 119]
    with pytest.raises(RateLimited) as caught:
        limiter.hit("alice")
    assert caught.value.retry_after == 1
    fake_clock.advance(1)
    limiter.hit("alice")


def test_users_are_limited_separately(fake_clock):
    limiter = RateLimiter("2/minute", fake_clock)
    limiter.hit("alice")
    limiter.hit("alice")
    with pytest.raises(RateLimited):
        limiter.hit("alice")
    limiter.hit("bob")


def test_refused_requests_do_not_extend_the_wait(fake_clock):
    limiter = RateLimiter("1/minute", fake_clock)
    limiter.hit("alice")
    for _ in range(5):
        fake_clock.advance(10)
        with pytest.raises(RateLimited):
            limiter.hit("alice")
    fake_clock.advance(10.5)
    limiter.hit("alice")


@pytest.mark.parametrize("text", ["abc", "10/fortnight", ""])
def test_bad_limit_is_a_config_error(text):
    with pytest.raises(ConfigError):
        RateLimiter(text)


def test_storage_counters_follow_the_clock(fake_clock):
    storage = ClockMemoryStorage(fake_clock)
    assert storage.incr("k", 10) == 1
    assert storage.incr("k", 10, amount=2) == 3
    assert storage.get("k") == 3
    assert storage.get_expiry("k") == fake_clock.time() + 10
    fake_clock.advance(10)
    assert storage.get("k") == 0
    assert storage.incr("k", 10) == 1
    assert storage.acquire_entry("w", 2, 60)
    assert storage.get_moving_window("w", 2, 60) == (fake_clock.time(), 1)
    storage.clear("w")
    assert storage.get_moving_window("w", 2, 60)[1] == 0
    assert storage.reset() == 1
    assert storage.check()
