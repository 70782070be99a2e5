"""The consent state machine (G2, G4): pure, time passed in."""

from __future__ import annotations

import pytest

from agent.consent import ConsentMachine, Prompt
from agent.errors import ConsentError

T0 = 1_700_000_000_000


def ask(
    m: ConsentMachine,
    rid: str = "c1",
    viewer: str = "v1",
    perms: tuple[str, ...] = ("view", "control"),
    now: int = T0,
    expires: int | None = None,
    shown: bool = True,
) -> Prompt:
    p = m.request(
        request_id=rid,
        viewer_id=viewer,
        user_id="u1",
        user_name="Alice Engineer",
        role="engineer",
        ticket_id="t1",
        ticket_title="Printer",
        permissions=perms,
        now_ms=now,
        expires_ms=expires,
    )
    if shown:
        m.mark_shown(rid)
    return p


def test_prompt_carries_who_what_and_deadline() -> None:
    m = ConsentMachine(timeout_ms=60_000)
    p = ask(m, perms=("control", "view"))
    assert p.user_name == "Alice Engineer" and p.ticket_title == "Printer"
    assert p.permissions == ("view", "control")  # canonical order
    assert p.deadline_ms == T0 + 60_000
    assert m.pending == (p,)
    assert not m.may("v1", "view")


def test_each_permission_is_answered_separately() -> None:
    m = ConsentMachine()
    ask(m, perms=("view", "control", "video"))
    d = m.answer("c1", ["view", "video"], T0 + 1000)
    assert d.granted == ("view", "video") and d.denied == ("control",)
    assert m.may("v1", "view") and m.may("v1", "video") and not m.may("v1", "control")
    assert m.pending == ()


def test_timeout_is_a_deny() -> None:
    m = ConsentMachine(timeout_ms=60_000)
    ask(m)
    assert m.expire(T0 + 59_999) == []
    (d,) = m.expire(T0 + 60_000)
    assert d.reason == "timed_out" and d.granted == () and d.denied == ("view", "control")
    assert not m.may("v1", "view")


def test_late_answer_is_a_deny_even_if_allowed() -> None:
    m = ConsentMachine(timeout_ms=60_000)
    ask(m)
    d = m.answer("c1", ["view", "control"], T0 + 61_000)
    assert d.reason == "timed_out" and d.granted == ()
    assert not m.may("v1", "view")


def test_broker_cannot_extend_the_deadline() -> None:
    m = ConsentMachine(timeout_ms=60_000)
    p = ask(m, expires=T0 + 3_600_000)
    assert p.deadline_ms == T0 + 60_000
    q = ask(m, rid="c2", viewer="v2", expires=T0 + 5_000)
    assert q.deadline_ms == T0 + 5_000


def test_grant_needs_a_shown_prompt_and_only_what_was_asked() -> None:
    m = ConsentMachine()
    ask(m, perms=("view",), shown=False)
    with pytest.raises(ConsentError):
        m.answer("c1", ["view"], T0)
    m.mark_shown("c1")
    with pytest.raises(ConsentError):
        m.answer("c1", ["view", "control"], T0)  # control was not asked
    assert not m.may("v1", "control")
    assert m.answer("c1", ["view"], T0).granted == ("view",)


def test_deny_all_without_showing_is_allowed() -> None:
    m = ConsentMachine()
    ask(m, shown=False)
    d = m.answer("c1", [], T0)
    assert d.granted == () and d.denied == ("view", "control")


def test_control_needs_view() -> None:
    m = ConsentMachine()
    ask(m, perms=("view", "control"))
    d = m.answer("c1", ["control"], T0)
    assert d.granted == () and not m.may("v1", "control")


def test_revoke_any_time_and_view_takes_control_with_it() -> None:
    m = ConsentMachine()
    ask(m, perms=("view", "control"))
    m.answer("c1", ["view", "control"], T0)
    r = m.revoke("v1", ["control"])
    assert r is not None and r.permissions == ("control",)
    assert m.may("v1", "view") and not m.may("v1", "control")
    ask(m, rid="c2", perms=("control",))
    m.answer("c2", ["control"], T0)
    r = m.revoke("v1", ["view"])
    assert r is not None and r.permissions == ("view", "control")
    assert m.permissions("v1") == frozenset()
    assert m.revoke("v1", ["view"]) is None  # nothing left to lose


def test_an_additional_viewer_asks_again() -> None:
    m = ConsentMachine()
    ask(m, perms=("view",))
    m.answer("c1", ["view"], T0)
    assert not m.may("v2", "view")
    ask(m, rid="c2", viewer="v2", perms=("view",))
    assert not m.may("v2", "view")
    m.answer("c2", [], T0)
    assert m.may("v1", "view") and not m.may("v2", "view")
    assert m.viewers_with("view") == ("v1",)


def test_viewer_left_drops_grants_and_pending() -> None:
    m = ConsentMachine()
    ask(m, perms=("view",))
    m.answer("c1", ["view"], T0)
    ask(m, rid="c2", perms=("control",))
    lost, decisions = m.viewer_left("v1")
    assert lost is not None and lost.permissions == ("view",)
    assert [d.reason for d in decisions] == ["viewer_left"]
    assert not m.may("v1", "view") and m.pending == ()


def test_release_by_viewer() -> None:
    m = ConsentMachine()
    ask(m)
    m.answer("c1", ["view", "control"], T0)
    r = m.release("v1", ["control"])
    assert r is not None and not m.may("v1", "control") and m.may("v1", "view")


def test_close_is_final() -> None:
    m = ConsentMachine()
    ask(m, perms=("view",))
    m.answer("c1", ["view"], T0)
    ask(m, rid="c2", viewer="v2", perms=("view",))
    decisions, revocations = m.close()
    assert [d.reason for d in decisions] == ["session_closed"]
    assert [r.viewer_id for r in revocations] == ["v1"]
    assert not m.may("v1", "view") and m.closed
    with pytest.raises(ConsentError):
        ask(m, rid="c3")


def test_unknown_permission_and_duplicates_rejected() -> None:
    m = ConsentMachine()
    with pytest.raises(ValueError):
        ask(m, perms=("view", "files"))
    ask(m)
    with pytest.raises(ConsentError):
        ask(m)  # same request id twice
    with pytest.raises(ConsentError):
        m.answer("nope", [], T0)
