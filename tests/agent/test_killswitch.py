"""Kill switch and pause state (G5, G6): pure, thread-safe, final."""

from __future__ import annotations

import threading

import pytest

from agent.errors import SessionKilled
from agent.killswitch import KillRecord, KillSwitch


def test_kill_stops_grabbing_before_listeners_run() -> None:
    ks = KillSwitch()
    seen: list[tuple[bool, KillRecord]] = []
    ks.on_kill(lambda r: seen.append((ks.capture_allowed(), r)))
    assert ks.capture_allowed() and ks.state == "running"
    rec = ks.kill(123, "shortcut")
    assert rec == KillRecord(123, "shortcut")
    # the listener (which would notify the broker) ran after capture was stopped
    assert seen == [(False, rec)]
    assert ks.killed and ks.state == "killed" and not ks.capture_allowed()


def test_kill_is_idempotent_and_final() -> None:
    ks = KillSwitch()
    calls: list[KillRecord] = []
    ks.on_kill(calls.append)
    assert ks.kill(1) is not None
    assert ks.kill(2) is None
    assert len(calls) == 1 and ks.record == KillRecord(1, "button")
    with pytest.raises(SessionKilled):
        ks.resume()
    with pytest.raises(SessionKilled):
        ks.pause()
    late: list[KillRecord] = []
    ks.on_kill(late.append)  # registering after the kill fires at once
    assert late == [KillRecord(1, "button")]


def test_a_failing_listener_does_not_undo_the_stop() -> None:
    ks = KillSwitch()

    def boom(_r: KillRecord) -> None:
        raise RuntimeError("network hung")

    after: list[int] = []
    ks.on_kill(boom)
    ks.on_kill(lambda r: after.append(r.at_ms))
    ks.kill(5)
    assert ks.killed and after == [5]


def test_kill_from_another_thread_is_seen_by_waiters() -> None:
    ks = KillSwitch()
    t = threading.Thread(target=ks.kill, args=(7,))
    t.start()
    assert ks.wait_killed(2.0)
    t.join()
    assert not ks.capture_allowed()


def test_pause_and_resume() -> None:
    ks = KillSwitch()
    assert ks.pause() is True and ks.pause() is False
    assert ks.paused and ks.state == "paused" and not ks.capture_allowed()
    assert ks.resume() is True and ks.resume() is False
    assert ks.capture_allowed()
    ks.pause()
    ks.kill(1)
    assert ks.state == "killed" and not ks.capture_allowed()
