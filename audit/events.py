"""The event model: dotted names, numeric codes, and who may emit each event.

Teleport style: a name says what happened (``consent.granted``), a stable numeric code
identifies it in exports and dashboards, and a code is never reused or renumbered.
Codes are grouped by thousands: 1xxx session lifecycle, 2xxx viewers and consent,
3xxx input, 4xxx live-session actions, 5xxx video call, 6xxx keys, 7xxx evidence, 8xxx the CA,
9xxx records that exist only in the client's own chain.

``sources`` says who may originate the event:

* ``BROKER`` — the broker observed it (a message, a REST call, a timer) and writes it;
* ``AGENT`` — the agent did it locally and reports it with ``log.local`` (SPEC §3.5),
  or writes it to the client's own chain. :func:`check_local_event` is the broker's
  gate for ``log.local``: an agent cannot inject, say, ``consent.granted`` through it.

Details never carry keystroke characters, screen bytes, keys or tokens: ``input.applied``
counts keys and names special keys only (G7).

The chain itself accepts any well-formed dotted name (so old verifiers still verify
logs that contain events added later); this table is what writers check against.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from audit.errors import EventError

__all__ = [
    "EVENTS",
    "EventType",
    "Source",
    "check_event_name",
    "check_local_event",
    "code_of",
    "lookup",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
MAX_NAME = 64


class Source(enum.Flag):
    """Who may originate an event."""

    BROKER = enum.auto()
    AGENT = enum.auto()
    BOTH = BROKER | AGENT


@dataclass(frozen=True, slots=True)
class EventType:
    """One row of the event table."""

    name: str
    code: int
    sources: Source
    description: str


_B, _A, _AB = Source.BROKER, Source.AGENT, Source.BOTH

_TABLE: tuple[EventType, ...] = (
    # 1xxx session lifecycle
    EventType("session.requested", 1000, _B, "a client asked for help (ticket, queue)"),
    EventType("session.started", 1001, _B, "the first engineer was granted view"),
    EventType("session.paused", 1002, _AB, "the client paused the stream"),
    EventType("session.resumed", 1003, _AB, "the client resumed the stream"),
    EventType("session.ended", 1004, _AB, "the session ended (reason, by)"),
    EventType("kill.triggered", 1005, _AB, "the client pressed the kill switch"),
    EventType("session.escalated", 1006, _B, "the SLA deadline is near: supervisors told"),
    EventType("session.reconnected", 1007, _B, "the agent reconnected with its resume token"),
    EventType("session.interrupted", 1008, _B, "the agent's connection dropped; grace period runs"),
    EventType(
        "session.reattached", 1009, _B, "the agent attached again to a broker that had restarted"
    ),
    # 2xxx viewers and consent
    EventType("viewer.joined", 2000, _B, "a verified engineer or observer joined"),
    EventType("viewer.left", 2001, _B, "a viewer left (reason)"),
    EventType("permission.requested", 2002, _B, "a viewer asked for permissions"),
    EventType("consent.requested", 2003, _B, "the client was prompted"),
    EventType("consent.granted", 2004, _AB, "the client granted permissions"),
    EventType("consent.denied", 2005, _AB, "the client denied (or the prompt timed out)"),
    EventType("consent.revoked", 2006, _AB, "the client revoked permissions"),
    EventType("permission.released", 2007, _B, "a viewer gave a permission back"),
    EventType(
        "session.transferred",
        2008,
        _B,
        "the client consented: the session passed to another engineer",
    ),
    EventType(
        "session.transfer_refused", 2009, _B, "the client denied (or did not answer) a transfer"
    ),
    # 3xxx input
    EventType("input.applied", 3000, _A, "engineer input applied (counts, special keys)"),
    EventType("input.dropped", 3001, _AB, "engineer input refused (no control)"),
    EventType(
        "input.forwarded", 3002, _B, "engineer input relayed to the agent (counts per second)"
    ),
    # 4xxx live session
    EventType("chat.sent", 4000, _AB, "a chat message"),
    EventType("mask.changed", 4001, _AB, "masked regions/windows changed (counts only)"),
    EventType("screen.refreshed", 4002, _B, "a viewer asked for a full update"),
    EventType("monitor.selected", 4003, _A, "the engineer switched the shared monitor (index)"),
    # 5xxx video call
    EventType("call.requested", 5000, _B, "an engineer asked for a call"),
    EventType("call.started", 5001, _AB, "the client started the call"),
    EventType("call.ended", 5002, _AB, "the call ended"),
    # 6xxx keys
    EventType("key.exchanged", 6000, _AB, "E2E key agreement with a viewer completed"),
    EventType("key.epoch", 6001, _AB, "a new content-key epoch started"),
    EventType("audit.wrapped", 6002, _AB, "the content key was wrapped for the audit recipient"),
    EventType("audit.recipient_rejected", 6003, _A, "the audit certificate did not verify"),
    # 7xxx evidence
    EventType("checkpoint.signed", 7000, _B, "the broker signed a checkpoint of the log"),
    EventType("replay.viewed", 7001, _B, "a reviewer replayed the recording"),
    EventType("rating.given", 7002, _AB, "the client rated the help"),
    EventType("log.verified", 7003, _A, "the agent verified the broker's signed log"),
    EventType("recording.deleted", 7004, _B, "a recording was deleted (retention, admin)"),
    EventType("log.exported", 7005, _B, "an evidence bundle of the session was exported"),
    EventType("recording.sealed", 7006, _B, "a closed recording's digest was signed"),
    EventType(
        "recording.paused", 7007, _B, "the recording cannot be written: no screen update relayed"
    ),
    EventType("recording.resumed", 7008, _B, "the recording works again (gap marked)"),
    EventType(
        "recording.unavailable", 7009, _B, "not recordable; unrecorded sessions allowed: goes on"
    ),
    # 8xxx certificate authority (DATA_DIR/ca/audit.jsonl; written by certs-admin)
    EventType("ca.initialized", 8000, _B, "the admin created the root and issuing CA"),
    EventType("cert.issued", 8001, _B, "a certificate was issued (profile, serial, names)"),
    EventType("cert.revoked", 8002, _B, "a certificate was revoked; the CRL was republished"),
    EventType("ca.rotation_started", 8003, _B, "a new root is trusted beside the old one"),
    EventType("ca.leaves_reissued", 8004, _B, "broker leaves were reissued under the new CA"),
    EventType("ca.rotated", 8005, _B, "the old root was retired: rotation finished"),
    EventType("enrollment.created", 8006, _B, "an agent enrollment file was written"),
    EventType("crl.published", 8007, _B, "the CRL was re-signed (e.g. before it went stale)"),
    # 9xxx client chain only
    EventType("broker.record", 9000, _A, "the client chain's reference to a broker record"),
)

#: Every known event by name (read-only).
EVENTS: Mapping[str, EventType] = MappingProxyType({e.name: e for e in _TABLE})


def check_event_name(name: str) -> str:
    """Return ``name`` if it is a well-formed dotted name, else raise :class:`EventError`."""
    if not isinstance(name, str) or len(name) > MAX_NAME or not _NAME.match(name):
        raise EventError(str(name)[:80], "not a dotted lowercase name (e.g. consent.granted)")
    return name


def lookup(name: str) -> EventType | None:
    """The table row for ``name``, or None for an unknown event."""
    return EVENTS.get(name)


def code_of(name: str) -> int | None:
    """The numeric code of ``name`` (None if unknown)."""
    event = EVENTS.get(name)
    return None if event is None else event.code


def check_local_event(name: str) -> EventType:
    """Gate for ``log.local``: the event must be known and allowed from the agent."""
    check_event_name(name)
    event = EVENTS.get(name)
    if event is None:
        raise EventError(name, "unknown event")
    if Source.AGENT not in event.sources:
        raise EventError(name, "only the broker may record this event")
    return event
