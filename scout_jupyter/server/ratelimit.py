"""Per-user moving-window rate limit on signing, over an injected clock.

The strategy and the limit syntax (``"10/minute"``) are the ``limits`` library's
(:class:`limits.strategies.MovingWindowRateLimiter`, :func:`limits.parse`). Its own in-memory
storage cannot be used with a fake clock: ``limits.storage.MemoryStorage`` (5.x) reads
``time.time()`` directly in its entries and methods and prunes them from a timer thread on wall
time, so a clock in the past would see its entries expire at once. :class:`ClockMemoryStorage`
is the same storage contract (counters and moving windows, thread-safe, in memory) reading
time from a :class:`~scout_jupyter.clock.Clock`; the strategy on top is unchanged.
"""

from __future__ import annotations

import math
import threading

from limits import RateLimitItem, parse
from limits.storage import MovingWindowSupport, Storage
from limits.strategies import MovingWindowRateLimiter

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigError, RateLimited

#: Keys kept before stale windows are pruned.
PRUNE_AT = 10_000


class ClockMemoryStorage(Storage, MovingWindowSupport):
    """In-memory ``limits`` storage whose notion of now is ``clock.time()``."""

    STORAGE_SCHEME = None  # not registered under a URI scheme: construct it directly

    def __init__(self, clock: Clock = SYSTEM_CLOCK):
        super().__init__()
        self.clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._events: dict[str, list[float]] = {}  # key -> acquisition times, newest first

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    # --- fixed-window counters (the ``limits`` Storage contract) ------------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock.time()
        with self._lock:
            count, expires = self._counters.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + expiry
            count += amount
            self._counters[key] = (count, expires)
            return count

    def get(self, key: str) -> int:
        with self._lock:
            count, expires = self._counters.get(key, (0, 0.0))
        return count if expires > self.clock.time() else 0

    def get_expiry(self, key: str) -> float:
        with self._lock:
            _count, expires = self._counters.get(key, (0, self.clock.time()))
        return expires

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            cleared = len(self._counters) + len(self._events)
            self._counters.clear()
            self._events.clear()
        return cleared

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)
            self._events.pop(key, None)

    # --- moving window ------------------------------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = self.clock.time()
        with self._lock:
            events = self._events.setdefault(key, [])
            # the entry that would fall out of the window if this one is admitted
            if len(events) > limit - amount and events[limit - amount] >= now - expiry:
                return False
            events[:0] = [now] * amount
            del events[limit:]  # older entries can never matter again
            if len(self._events) > PRUNE_AT:
                self._prune(now, expiry)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self.clock.time()
        with self._lock:
            inside = [t for t in self._events.get(key, ()) if t >= now - expiry]  # as acquire_entry
        if not inside:
            return now, 0
        return inside[-1], len(inside)

    def _prune(self, now: float, expiry: int) -> None:
        for key in [k for k, ev in self._events.items() if not ev or ev[0] < now - expiry]:
            del self._events[key]


#: Held to the original platform's 10 signs a minute on average, with room for an ordinary
#: notebook session's burst (nine cold loads and a few URLs in one minute).
DEFAULT_RATE_LIMIT = "30/3 minutes"


class RateLimiter:
    """``hit(user)`` admits a request or raises :class:`RateLimited` with the seconds to wait."""

    def __init__(self, limit: str = DEFAULT_RATE_LIMIT, clock: Clock = SYSTEM_CLOCK):
        self.item = parse_limit(limit)
        self.clock = clock
        self.storage = ClockMemoryStorage(clock)
        self.strategy = MovingWindowRateLimiter(self.storage)

    def hit(self, user: str) -> None:
        if self.strategy.hit(self.item, user):
            return
        reset_at, _remaining = self.strategy.get_window_stats(self.item, user)
        # whole seconds, rounded up past the instant the oldest entry leaves the window
        wait = max(1, math.floor(reset_at - self.clock.time()) + 1)
        raise RateLimited(
            wait,
            f"Rate limit exceeded: retry in {wait} s (this server allows {self.describe()} "
            "per user: its rate_limit setting, SCOUT_RATE_LIMIT)",
        )

    def describe(self) -> str:
        """The limit in words: ``30 signed URLs per 3 minutes``, ``10 signed URLs per minute``."""
        unit = self.item.GRANULARITY.name
        period = unit if self.item.multiples == 1 else f"{self.item.multiples} {unit}s"
        return f"{self.item.amount} signed URLs per {period}"

    def __repr__(self) -> str:
        return f"RateLimiter({self.item})"


def parse_limit(text: str) -> RateLimitItem:
    """``"30/3 minutes"``, ``"10/minute"``, ``"100 per hour"``… (the ``limits`` notation: a count,
    ``/`` or ``per``, an optional multiple and a unit) → one limit item."""
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"Invalid rate limit {text!r}: {exc} (expected e.g. 30/3 minutes or 10/minute)") from None
