"""One retry policy for every remote call: exponential backoff with full jitter.

Built on tenacity. Transient faults are connection errors, timeouts, 429 and 5xx; anything
else fails at once. The sleeper is injectable so tests never wait for real time.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from ..clock import SYSTEM_CLOCK
from ..errors import ScoutError

log = logging.getLogger(__name__)
T = TypeVar("T")


class TransientError(Exception):
    """Raised by a backend for a fault worth retrying (connection reset, 429, 5xx).
    ``message`` keeps the storage's own words; ``retry_after`` honours the server's hint."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass
class RetryPolicy:
    attempts: int = 5  # total tries, the first included
    base_delay: float = 0.2  # seconds before the 2nd try (before jitter)
    max_delay: float = 10.0
    sleep: Callable[[float], None] = field(default=SYSTEM_CLOCK.sleep)
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Full-jitter backoff before try ``attempt + 1`` (``attempt`` ≥ 1)."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(cap / 2, cap)

    def call(
        self,
        fn: Callable[[], T],
        *,
        is_transient: Callable[[BaseException], bool] | None = None,
        describe: str = "storage call",
    ) -> T:
        """Run ``fn`` and retry it on transient faults; re-raise the last error when the tries
        run out (a StorageUnavailable naming the operation, for TransientError)."""
        from ..errors import StorageUnavailable

        check = is_transient or (lambda exc: isinstance(exc, TransientError))

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hint = getattr(exc, "retry_after", None)
            backoff = self.delay(state.attempt_number)
            return min(self.max_delay, max(backoff, hint)) if hint else backoff

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            # debug: what the user needs is the outcome (success, or one clear error), not each try
            log.debug("%s failed (try %d of %d): %s; retrying", describe, state.attempt_number, self.attempts, exc)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=wait,
            retry=tenacity.retry_if_exception(check),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except ScoutError as exc:
            # A final answer (not found, denied, invalid...): its message is complete, and the frames
            # of tenacity and concurrent.futures it passed through are plumbing. Raised from here.
            raise exc.with_traceback(None)  # noqa: B904 - the same exception, its cause kept
        except TransientError as exc:
            raise StorageUnavailable(f"{describe} failed after {self.attempts} tries: {exc.message}") from exc
