"""Injectable time: expiry, rate limits, freshness and backoff all read a ``Clock``.

Tests use :class:`FakeClock`, whose ``sleep`` advances time instead of waiting.
"""

from __future__ import annotations

import threading
import time as _time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch."""

    def now(self) -> datetime:
        """Aware UTC datetime."""

    def sleep(self, seconds: float) -> None:
        """Wait (or pretend to)."""


class SystemClock:
    def time(self) -> float:
        return _time.time()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to (``advance``) or when something ``sleep``s."""

    def __init__(self, start: float | datetime = 1_723_256_100.0):  # 2024-08-10T02:15:00Z
        if isinstance(start, datetime):
            start = start.timestamp()
        self._t = float(start)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), timezone.utc)

    def advance(self, seconds: float | timedelta) -> None:
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        with self._lock:
            self._t += float(seconds)

    def set(self, when: float | datetime) -> None:
        if isinstance(when, datetime):
            when = when.timestamp()
        with self._lock:
            self._t = float(when)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def __deepcopy__(self, memo: dict) -> FakeClock:
        # one shared time source: traitlets deep-copies config values (c.ScoutExtension.clock)
        return self


SYSTEM_CLOCK = SystemClock()


def isoformat_z(dt: datetime) -> str:
    """``2024-08-10T02:15:00.000Z``: the manifest's timestamp form (milliseconds, UTC)."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or offset); naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
