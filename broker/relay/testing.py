"""Fakes for relay tests: an in-memory session log and a scripted harness.

:class:`MemoryLog` is a hash-chained log in memory (same record shape as
SPEC §9) that can be told to fail, to test fail-closed behaviour.
:class:`Harness` drives one :class:`SessionRelay` and sorts the actions it
returns into per-endpoint inboxes of parsed protocol messages, so tests read
like a conversation and need no sockets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.canonical import canonical_json
from broker.relay.actions import (
    AGENT,
    Action,
    Close,
    HandoverAnswered,
    LogFailure,
    MarkAnswered,
    MarkEnded,
    PersistState,
    Record,
    SaveRating,
    SendBinary,
    SendText,
    SessionClosed,
)
from broker.relay.session import RelayTimings, SessionInfo, SessionRelay, ViewerUser
from protocol.media import BinaryMessage, parse_binary
from protocol.messages import ControlMessage, parse_control

__all__ = ["Harness", "Inbox", "MemoryLog"]


class MemoryLog:
    """An in-memory hash-chained log; set :attr:`fail` to make appends raise."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.checkpoints: list[dict[str, Any]] = []
        self.fail = False
        self.closed = False

    def append(
        self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int
    ) -> dict[str, Any]:
        """Append one record (raises :class:`LogFailure` when :attr:`fail`)."""
        if self.fail:
            raise LogFailure("disk full (simulated)")
        prev = self.records[-1]["hash"] if self.records else "0" * 64
        record: dict[str, Any] = {
            "seq": len(self.records) + 1,
            "at_ms": at_ms,
            "event": event,
            "actor": actor,
            "detail": dict(detail),
            "prev": prev,
        }
        record["hash"] = hashlib.sha256(canonical_json(record)).hexdigest()
        self.records.append(record)
        return record

    def records_after(self, seq: int) -> list[dict[str, Any]]:
        """Records with a seq above ``seq``."""
        return [r for r in self.records if r["seq"] > seq]

    def checkpoint(self, at_ms: int) -> dict[str, Any] | None:
        """An unsigned stand-in checkpoint of the head (None if nothing new)."""
        if not self.records:
            return None
        head = self.records[-1]
        if self.checkpoints and self.checkpoints[-1]["seq"] == head["seq"]:
            return None
        cp = {
            "session_id": "test",
            "seq": head["seq"],
            "hash": head["hash"],
            "at_ms": at_ms,
            "key_id": "test",
            "signature": "AA",
        }
        self.checkpoints.append(cp)
        return cp

    def close(self) -> None:
        """Nothing to release."""
        self.closed = True

    def events(self) -> list[str]:
        """Event names in order."""
        return [r["event"] for r in self.records]


@dataclass
class Inbox:
    """What one endpoint received."""

    control: list[ControlMessage] = field(default_factory=list)
    binary: list[bytes] = field(default_factory=list)
    closed: tuple[int, str] | None = None

    def types(self) -> list[str]:
        """The control message types received, in order."""
        return [msg.type for msg in self.control]

    def of(self, msg_type: str) -> list[Any]:
        """The control messages of one type."""
        return [msg for msg in self.control if msg.type == msg_type]

    def frames(self) -> list[BinaryMessage]:
        """The binary frames, parsed."""
        return [parse_binary(b) for b in self.binary]

    def clear(self) -> None:
        """Forget what was received (not the close)."""
        self.control.clear()
        self.binary.clear()


class Harness:
    """Drives a :class:`SessionRelay` with a clock under the test's control."""

    def __init__(
        self,
        session_id: str = "s1",
        timings: RelayTimings | None = None,
        log: MemoryLog | None = None,
    ) -> None:
        self.log = log or MemoryLog()
        self.now = 1_700_000_000_000
        self.relay = SessionRelay(
            SessionInfo(session_id, "t1", "Printer is broken", "Alice Client"), self.log, timings
        )
        self.inbox: dict[str, Inbox] = {}
        self.store: list[Action] = []
        self.recorded: list[Record] = []

    def box(self, to: str) -> Inbox:
        """The inbox of ``to`` (``"agent"`` or a viewer id)."""
        return self.inbox.setdefault(to, Inbox())

    @property
    def agent(self) -> Inbox:
        """The agent's inbox."""
        return self.box(AGENT)

    def feed(self, actions: Iterable[Action]) -> list[Action]:
        """Sort actions into inboxes and the store list; returns them."""
        actions = list(actions)
        for action in actions:
            if isinstance(action, SendText):
                self.box(action.to).control.append(parse_control(action.text))
            elif isinstance(action, SendBinary):
                self.box(action.to).binary.append(action.data)
            elif isinstance(action, Close):
                self.box(action.to).closed = (action.code, action.reason)
            elif isinstance(action, Record):
                self.recorded.append(action)
            elif isinstance(
                action,
                PersistState
                | MarkAnswered
                | MarkEnded
                | SaveRating
                | HandoverAnswered
                | SessionClosed,
            ):
                self.store.append(action)
        return actions

    def advance(self, ms: int) -> list[Action]:
        """Move the clock and run the timers."""
        self.now += ms
        return self.feed(self.relay.tick(self.now))

    def connect_agent(self) -> None:
        """The agent says hello."""
        self.feed(self.relay.attach_agent(self.now, "resume-token"))

    def join(
        self,
        user_id: str = "u1",
        name: str = "Eve Engineer",
        role: str = "engineer",
        permissions: Iterable[str] = ("view", "control"),
    ) -> str:
        """A viewer says hello; returns its viewer id."""
        vid, actions = self.relay.attach_viewer(
            ViewerUser(user_id, name, role), permissions, self.now
        )
        self.feed(actions)
        return vid

    def agent_says(self, msg: ControlMessage) -> list[Action]:
        """The agent sends a control message."""
        return self.feed(self.relay.agent_control(msg, self.now))

    def viewer_says(self, vid: str, msg: ControlMessage) -> list[Action]:
        """A viewer sends a control message."""
        return self.feed(self.relay.viewer_control(vid, msg, self.now))

    def agent_sends(self, data: bytes) -> list[Action]:
        """The agent sends a binary frame."""
        return self.feed(self.relay.agent_binary(parse_binary(data), data, self.now))

    def viewer_sends(self, vid: str, data: bytes) -> list[Action]:
        """A viewer sends a binary frame."""
        return self.feed(self.relay.viewer_binary(vid, parse_binary(data), data, self.now))

    def last_consent_request(self) -> Any:
        """The newest ``consent.request`` the agent received."""
        return self.agent.of("consent.request")[-1]
