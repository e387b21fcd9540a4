"""Moving-window rate limit over the injected clock (the ``limits`` strategy on a clocked storage)."""

from __future__ import annotations

import pytest

from scout_jupyter.errors import ConfigError, RateLimited
from scout_jupyter.server.ratelimit import DEFAULT_RATE_LIMIT, ClockMemoryStorage, RateLimiter


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


def test_default_never_refuses_a_notebook_burst_yet_holds_a_loop_to_ten_a_minute(fake_clock):
    limiter = RateLimiter(DEFAULT_RATE_LIMIT, fake_clock)
    assert DEFAULT_RATE_LIMIT == "30/3 minutes" and limiter.describe() == "30 signed URLs per 3 minutes"
    for _ in range(9 + 5):  # nine cold loads and five URLs within one minute
        limiter.hit("alice")
        fake_clock.advance(4)
    # a loop signing as fast as it can, for 30 minutes, waiting whenever it is told to
    admitted, refusals, start = 0, [], fake_clock.time()
    while fake_clock.time() - start < 1800:
        try:
            limiter.hit("bob")
            admitted += 1
        except RateLimited as exc:
            refusals.append(exc)
            fake_clock.advance(exc.retry_after)
    assert 300 <= admitted <= 300 + 30  # 10 a minute on average, plus one window's burst
    first = refusals[0]
    assert first.retry_after == 181 and str(first) == (  # 30 at once: they leave the window after 180 s
        "Rate limit exceeded: retry in 181 s (this server allows 30 signed URLs per 3 minutes per user: "
        "its rate_limit setting, SCOUT_RATE_LIMIT)"
    )


def test_limit_notation_in_words(fake_clock):
    assert RateLimiter("10/minute", fake_clock).describe() == "10 signed URLs per minute"
    assert RateLimiter("100 per 2 hours", fake_clock).describe() == "100 signed URLs per 2 hours"
