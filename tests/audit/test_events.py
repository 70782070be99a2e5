"""The event table: unique codes, well-formed names, the log.local gate."""

from __future__ import annotations

import pytest

from audit.errors import EventError
from audit.events import EVENTS, Source, check_event_name, check_local_event, code_of, lookup

CONTRACT_EVENTS = [
    "session.requested",
    "session.started",
    "viewer.joined",
    "consent.requested",
    "consent.granted",
    "consent.denied",
    "consent.revoked",
    "input.applied",
    "input.dropped",
    "chat.sent",
    "session.paused",
    "session.resumed",
    "mask.changed",
    "call.started",
    "call.ended",
    "kill.triggered",
    "session.ended",
    "checkpoint.signed",
    "replay.viewed",
]


def test_contract_events_are_present() -> None:
    for name in CONTRACT_EVENTS:
        assert lookup(name) is not None, name


def test_codes_unique_and_grouped() -> None:
    codes = [e.code for e in EVENTS.values()]
    assert len(codes) == len(set(codes))
    assert code_of("session.started") == 1001
    assert code_of("consent.granted") == 2004
    assert code_of("no.such") is None
    for event in EVENTS.values():
        check_event_name(event.name)


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        EVENTS["x.y"] = EVENTS["chat.sent"]  # type: ignore[index]


@pytest.mark.parametrize("name", ["", "session", "Session.started", "a..b", "a.b.", "a b.c"])
def test_malformed_names(name: str) -> None:
    with pytest.raises(EventError):
        check_event_name(name)


def test_log_local_gate() -> None:
    assert check_local_event("input.applied").sources & Source.AGENT
    assert check_local_event("mask.changed").code == 4001
    with pytest.raises(EventError, match="only the broker"):
        check_local_event("viewer.joined")
    with pytest.raises(EventError, match="only the broker"):
        check_local_event("checkpoint.signed")
    with pytest.raises(EventError, match="unknown"):
        check_local_event("made.up")
