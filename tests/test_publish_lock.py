"""The publish lock in the store: exclusive, stale-lock recovery, guarded breaking, heartbeat."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from scout_jupyter.errors import PublishInProgress
from scout_jupyter.publish.lock import LockInfo, PublishLock, lock_key, process_alive

from .test_publish_support import make_backend

KEY = lock_key("scout/v1")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request, tmp_path, fake_clock):
    return make_backend(request.param, request, tmp_path, fake_clock).storage


def lock(storage, clock, **kw) -> PublishLock:
    return PublishLock(storage, "scout/v1", clock=clock, **kw)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_one_holder_at_a_time(storage, fake_clock):
    first = lock(storage, fake_clock)
    info = first.acquire()
    assert info.pid == os.getpid() and info.host == socket.gethostname()
    stored = LockInfo.from_bytes(storage.read_bytes(KEY))
    assert stored == info
    with pytest.raises(PublishInProgress, match=rf"already running on scout/v1 \(pid {os.getpid()} on"):
        lock(storage, fake_clock).acquire()
    first.release()
    assert not storage.exists(KEY)
    with lock(storage, fake_clock) as second:
        assert second.held
    assert not storage.exists(KEY)


def test_stale_by_heartbeat_age(storage, fake_clock):
    holder = lock(storage, fake_clock, stale_after=600)
    holder.acquire()
    fake_clock.advance(599)
    with pytest.raises(PublishInProgress):
        lock(storage, fake_clock, stale_after=600).acquire()
    fake_clock.advance(2)
    taker = lock(storage, fake_clock, stale_after=600)
    taker.acquire()
    assert LockInfo.from_bytes(storage.read_bytes(KEY)).owner == taker.owner
    with pytest.raises(PublishInProgress, match="taken over"):
        holder.heartbeat(force=True)  # the old holder learns it lost the lock
    holder.release()  # and does not delete the new holder's lock
    assert storage.exists(KEY)
    assert not [i.key for i in storage.list("scout/v1/manifests/") if ".break-" in i.key]


def test_heartbeat_keeps_a_long_publish_alive(storage, fake_clock):
    holder = lock(storage, fake_clock, stale_after=600, heartbeat_every=60)
    holder.acquire()
    for _ in range(20):  # 20 minutes of work, heartbeating as it goes
        fake_clock.advance(60)
        holder.heartbeat()
    with pytest.raises(PublishInProgress):
        lock(storage, fake_clock, stale_after=600).acquire()
    beat = LockInfo.from_bytes(storage.read_bytes(KEY))
    assert beat.heartbeat_at == "2024-08-10T02:35:00.000Z" and beat.created_at == "2024-08-10T02:15:00.000Z"


def test_stale_when_its_process_on_this_host_is_gone(storage, fake_clock):
    pid = dead_pid()
    assert not process_alive(pid) and process_alive(os.getpid())
    now = "2024-08-10T02:15:00.000Z"
    storage.write(KEY, LockInfo("crashed", socket.gethostname(), pid, now, now).to_bytes())
    taker = lock(storage, fake_clock)
    taker.acquire()  # no waiting for the timeout: the holder is known dead
    assert LockInfo.from_bytes(storage.read_bytes(KEY)).owner == taker.owner


def test_a_lock_from_another_host_waits_for_the_timeout(storage, fake_clock):
    now = "2024-08-10T02:15:00.000Z"
    storage.write(KEY, LockInfo("other", "some-other-host", dead_pid(), now, now).to_bytes())
    with pytest.raises(PublishInProgress, match="on some-other-host"):
        lock(storage, fake_clock).acquire()
    fake_clock.advance(timedelta(hours=1))
    lock(storage, fake_clock).acquire()


def test_unreadable_lock_is_stale(storage, fake_clock):
    storage.write(KEY, b"\x00garbage")
    lock(storage, fake_clock).acquire()


def test_only_one_breaker_wins_and_a_fresh_lock_survives(storage, fake_clock):
    now = "2024-08-10T02:15:00.000Z"
    stale = LockInfo("crashed", "elsewhere", 1, now, now).to_bytes()
    storage.write(KEY, stale)
    fake_clock.advance(timedelta(hours=1))
    a, b = lock(storage, fake_clock), lock(storage, fake_clock)
    assert a._break(stale)  # a wins the right to break, deletes the stale lock...
    a.acquire()
    # ...b saw the same stale bytes earlier: its break must not delete a's fresh lock
    assert b._break(stale)
    assert LockInfo.from_bytes(storage.read_bytes(KEY)).owner == a.owner
    with pytest.raises(PublishInProgress):
        b.acquire()


def test_break_marker_held_by_a_live_breaker_blocks_and_an_abandoned_one_expires(storage, fake_clock):
    now = "2024-08-10T02:15:00.000Z"
    stale = LockInfo("crashed", "elsewhere", 1, now, now).to_bytes()
    storage.write(KEY, stale)
    fake_clock.advance(timedelta(hours=1))
    import hashlib

    marker = f"{KEY}.break-{hashlib.sha256(stale).hexdigest()[:16]}"
    storage.write(marker, json.dumps({"owner": "other-breaker", "time": fake_clock.time()}).encode())
    with pytest.raises(PublishInProgress, match="taking over a stale lock"):
        lock(storage, fake_clock).acquire()
    fake_clock.advance(120)  # the other breaker crashed while breaking
    lock(storage, fake_clock).acquire()
    assert not storage.exists(marker)
