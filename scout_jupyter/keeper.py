"""Writing a cold load's parsed copy after the load has returned.

A cold load parses the downloaded file and keeps the frame as a parsed copy (Arrow IPC) for the
next, warm, load. Writing it (~100 ms for a million rows) is not needed for the frame the user
asked for, so it runs on one background thread while the frame is already in the user's hands.

The copy must hold the parsed data, not what the user does with the frame next. With pandas'
Copy-on-Write (always on from pandas 3) the user gets a shallow copy of the frame: a change to
it copies the changed column first, and the frame this module writes, kept alive until written,
never changes. Without Copy-on-Write (pandas 2 with it off) the copy is written before the load
returns, as before.

The cache owns one keeper. A later load of the same copy, the cache's ``usage()`` and the
client's close wait for a write in progress, so what a sequence of calls sees does not depend
on thread timing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


def copy_on_write() -> bool:
    """Whether pandas copies a shared column before changing it (pandas 3: always)."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return bool(pd.get_option("mode.copy_on_write"))


class ParsedKeeper:
    """Runs parsed-copy writes on one background thread, one pending write per target."""

    def __init__(self, *, background: bool | None = None):
        self.background = copy_on_write() if background is None else background
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[Path, Future] = {}
        self._lock = threading.Lock()

    def keep(self, target: Path, frame: pd.DataFrame, write: Callable[[pd.DataFrame], None]) -> pd.DataFrame:
        """Write ``frame`` with ``write`` (which must not raise) and return the frame the caller
        may hand out: ``frame`` itself when written at once, else a shallow (CoW) copy."""
        if not self.background:
            write(frame)
            return frame
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scout-parsed-copy")
            future = self._pool.submit(write, frame)  # the task holds ``frame``: it stays unchanged
            self._pending[target] = future
        future.add_done_callback(lambda done: self._forget(target, done))
        return frame.copy(deep=False)

    def _forget(self, target: Path, done: Future) -> None:
        with self._lock:
            if self._pending.get(target) is done:
                del self._pending[target]
        if done.exception() is not None:  # write() logs its own failures; this is a bug
            log.error("Writing the parsed copy %s failed: %s", target.name, done.exception())

    def wait(self, target: Path) -> None:
        """Until a pending write of ``target`` has finished."""
        with self._lock:
            future = self._pending.get(target)
        if future is not None:
            future.exception()

    def wait_all(self) -> None:
        with self._lock:
            futures = list(self._pending.values())
        for future in futures:
            future.exception()

    def close(self) -> None:
        self.wait_all()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
