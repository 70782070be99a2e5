"""What the session tells its user interface (Qt window or terminal).

The session calls these methods from its own asyncio thread; a UI in another
thread must hand them over to its own thread (the Qt window uses signals).
Every method has a no-op default so a UI overrides only what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.consent import Decision, Permission, Prompt


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the live log, for people."""

    at_ms: int
    source: str  # "broker" or "client"
    event: str
    text: str


@dataclass(frozen=True, slots=True)
class LogVerification:
    """The result of checking the logs at the end of the session."""

    ok: bool
    summary: str
    problems: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ViewerStatus:
    """One connected viewer as the client sees it."""

    viewer_id: str
    name: str
    role: str
    permissions: frozenset[Permission]
    verification_code: str | None = None


@dataclass(frozen=True, slots=True)
class CallView:
    """A snapshot of the video call for the call panel (polled by the UI).

    ``remote_frame`` is the engineer's latest camera frame and ``local_frame`` the
    latest frame the client sends (black while the camera is muted); both are
    ``av.VideoFrame`` objects or None, and a new object means a new frame.
    """

    state: str = "idle"  # "idle", "ringing", "starting", "active", "ended"
    remote_frame: Any = None
    local_frame: Any = None
    audio_muted: bool = False
    video_muted: bool = False
    remote_audio_muted: bool = False
    remote_video_muted: bool = False


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """A snapshot for the control bar."""

    phase: str  # "connecting", "waiting", "live", "paused", "reconnecting", "ended"
    session_id: str | None = None
    ticket_id: str | None = None
    ticket_title: str | None = None
    viewers: tuple[ViewerStatus, ...] = ()
    sending: bool = False  # screen images are leaving the machine right now
    controlled_by: tuple[str, ...] = ()  # names of viewers holding control
    message: str = ""


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """How the session ended, for the last screen."""

    reason: str  # killed_by_client, ended_by_engineer, denied, timed_out, failed, auth_failed, ...
    by: str = ""
    session_id: str | None = None
    verification: LogVerification | None = None
    log_dir: str | None = None
    details: tuple[str, ...] = field(default_factory=tuple)
    rest_rating: bool = False
    """The agent holds the session's token: it can rate over REST after the socket
    closed (``POST /api/v1/agent/rating``, within 30 minutes of the end)."""

    @property
    def can_rate(self) -> bool:
        """Whether a rating can still reach the broker. After a kill (G5) the socket is
        closed at once: then only over REST with the session token (``rest_rating``).
        After an auth failure never."""
        if self.reason == "auth_failed":
            return False
        return self.rest_rating or self.reason != "killed_by_client"

    @property
    def final_text(self) -> str:
        """One sentence for people."""
        from agent.i18n import _  # late: observer.py is imported by everything

        texts = {
            "killed_by_client": _("You stopped the session with the kill switch."),
            "ended_by_engineer": _("The engineer ended the session."),
            "denied": _("The session ended: access was denied."),
            "timed_out": _("The session timed out."),
            "auth_failed": _("The help desk refused this connection (expired or invalid code)."),
            "broker_shutdown": _("The help desk service shut down."),
            "ended_while_away": _(
                "The session ended while this computer was disconnected "
                "(the help desk waits 30 seconds for it to come back)."
            ),
            "failed": _("The session stopped because of an error."),
        }
        return texts.get(self.reason, _("The session ended."))


@dataclass(frozen=True)
class TicketStatus:
    """The session's ticket as the closure question needs it (docs/workflow.md): the
    engineer marked it ``resolved``; the client confirms (closed) or reopens it.
    ``auto_close_at``: when it closes by itself without an answer (RFC 3339)."""

    ticket_id: str
    title: str
    status: str
    resolution: str | None = None
    auto_close_at: str | None = None


class SessionObserver:
    """Callbacks from the session to its UI (all optional)."""

    def status(self, status: SessionStatus) -> None:
        """The control bar must show ``status``."""

    def prompt(self, prompt: Prompt) -> None:
        """Ask the client; answer with ``session.answer(request_id, allowed)``."""

    def prompt_closed(self, decision: Decision) -> None:
        """A prompt was answered or timed out: take it off the screen."""

    def log_line(self, line: LogLine) -> None:
        """A new line for the live log."""

    def chat(self, sender: str, text: str, at_ms: int) -> None:
        """A chat message (from the engineer, or our own echoed back)."""

    def verification_code(self, viewer_id: str, name: str, code: str) -> None:
        """The code the client can compare with the engineer's."""

    def call_requested(self, viewer_id: str, name: str) -> None:
        """The engineer asks for a video call (the client decides)."""

    def notice(self, text: str) -> None:
        """Something the client should read (warnings, reconnecting, …)."""

    def ended(self, outcome: SessionOutcome) -> None:
        """The session is over; show the outcome and offer a rating."""

    def closure_asked(self, ticket: TicketStatus) -> None:
        """The engineer resolved the ticket: ask whether the problem is solved; answer
        with ``session.answer_closure(accept)``."""

    def closure_answered(self, ticket: TicketStatus) -> None:
        """The broker took the client's answer (``ticket.status``: closed or in progress)."""


class AgentController(Protocol):
    """What a UI may ask of the session (``AgentSession`` implements it; every method
    is safe to call from the UI thread)."""

    def kill(self, source: str = "button") -> object:
        """Stop capture now, then tell the broker and close."""

    def answer(self, request_id: str, allowed: Sequence[str]) -> None:
        """Answer a prompt: ``allowed`` permissions granted, the rest denied."""

    def mark_shown(self, request_id: str) -> None:
        """The prompt is on screen."""

    def revoke(self, viewer_id: str, permissions: Sequence[str]) -> None:
        """Take permissions back."""

    def pause(self) -> None:
        """Pause the stream."""

    def resume(self) -> None:
        """Resume the stream."""

    def send_chat(self, text: str) -> None:
        """Send a chat line."""

    def set_masks(
        self, regions: Sequence[tuple[int, int, int, int]], windows: Sequence[str] = ()
    ) -> None:
        """Blank regions and windows."""

    def rate(self, score: int, comment: str = "") -> None:
        """Rate the help."""

    def answer_closure(self, accept: bool, comment: str = "") -> None:
        """Confirm the engineer's resolution (``accept``) or reopen the ticket."""

    def call_start(self) -> None:
        """Start a video call (the client's camera and microphone open)."""

    def call_accept(self) -> None:
        """Accept the engineer's call request."""

    def call_decline(self) -> None:
        """Decline the engineer's call request."""

    def call_mute(self, *, audio: bool, video: bool) -> None:
        """Mute / unmute the client's microphone and camera during a call."""
        ...

    def call_view(self) -> CallView:
        """The call panel's snapshot (any thread; cheap: it only reads references)."""
        ...

    def call_hangup(self) -> None:
        """Hang up."""
