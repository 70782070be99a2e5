"""Input gating (G4): engineer input is applied only while ``control`` is granted.

The broker also drops input from viewers without ``control``; this gate does not
rely on it. For every input frame the gate:

1. finds the sending viewer's ``InputOpener`` (keys from that viewer's key
   agreement) — unknown senders are dropped;
2. authenticates and decrypts (forged, replayed or reordered frames are rejected
   and change nothing). Frames are authenticated even when they will not be
   applied, so a frame held back by a hostile broker cannot be replayed later;
3. checks, **per event, at apply time**, that the session is not killed or paused
   and that the viewer still holds ``control`` in the consent machine — so a
   revocation takes effect before the next event, even inside one batch;
4. maps pointer positions from frame pixels to desktop coordinates (the shared
   monitor's origin and scale, clamped into it: ``agent.desktop.layout``), applies
   the event through an ``Injector`` and summarises what was done for the
   client's log (clicks, key counts, special keys by name — never characters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.consent import ConsentMachine
from agent.desktop.layout import FrameTransform
from agent.inject import Injector
from agent.keys import InputSummary, describe_key, is_modifier
from agent.killswitch import KillSwitch
from protocol.e2e import InputOpener, viewer_number
from protocol.errors import ProtocolError
from protocol.media import (
    ButtonDown,
    ButtonUp,
    InputBatch,
    InputFrame,
    KeyDown,
    KeyUp,
    PointerMove,
    Wheel,
)


@dataclass(frozen=True, slots=True)
class InputResult:
    """What became of one input frame."""

    viewer_id: str | None
    summary: InputSummary
    rejected: str | None = None  # why the whole frame was refused (None: it opened)

    @property
    def applied_any(self) -> bool:
        """True if at least one event reached the injector."""
        return not self.summary.empty


class InputGate:
    """Decrypts, checks and applies engineer input for one session."""

    def __init__(
        self,
        session_id: str,
        consent: ConsentMachine,
        killswitch: KillSwitch,
        injector: Injector | None,
        transform: Callable[[], FrameTransform | None] | None = None,
    ) -> None:
        self._session_id = session_id
        self._consent = consent
        self._kill = killswitch
        self._injector = injector
        # Frame pixels → desktop coordinates of the view shared now (None: the same).
        self._transform = transform or (lambda: None)
        self._openers: dict[int, tuple[str, InputOpener]] = {}

    def add_viewer(self, viewer_id: str, input_key: bytes) -> None:
        """Install a viewer's ``K_input`` after its key agreement (replaces older keys)."""
        number = viewer_number(viewer_id)
        self._openers[number] = (viewer_id, InputOpener(self._session_id, number, input_key))

    def remove_viewer(self, viewer_id: str) -> None:
        """Forget a viewer's input key (it left)."""
        self._openers.pop(viewer_number(viewer_id), None)

    def _allowed(self, viewer_id: str) -> str | None:
        if self._kill.killed:
            return "killed"
        if self._kill.paused:
            return "paused"
        if not self._consent.may(viewer_id, "control"):
            return "not_granted"
        if self._injector is None:
            return "no_injector"
        return None

    def handle(self, frame: InputFrame) -> InputResult:
        """Authenticate one input frame and apply the events the viewer may apply."""
        entry = self._openers.get(frame.sender)
        if entry is None:
            return InputResult(None, InputSummary(), rejected="unknown_sender")
        viewer_id, opener = entry
        try:
            batch = InputBatch.parse(opener.open(frame))
        except ProtocolError as exc:
            return InputResult(viewer_id, InputSummary(), rejected=exc.code)
        summary = InputSummary()
        reason: str | None = None
        for event in batch.events:
            # Checked per event: a revoke or kill between two events stops the rest.
            reason = self._allowed(viewer_id)
            if reason is not None:
                summary.dropped += 1
                continue
            self._apply(event, summary)
        if summary.empty and summary.dropped:
            return InputResult(viewer_id, summary, rejected=reason)
        return InputResult(viewer_id, summary)

    def _point(self, x: int, y: int) -> tuple[int, int]:
        t = self._transform()
        return (x, y) if t is None else t.to_desktop(x, y)

    def _apply(self, event: object, summary: InputSummary) -> None:
        injector = self._injector
        assert injector is not None  # checked by _allowed
        if isinstance(event, PointerMove):
            injector.move(*self._point(event.x, event.y))
            summary.moves += 1
        elif isinstance(event, ButtonDown):
            injector.button(*self._point(event.x, event.y), event.button, True)
            summary.clicks += 1
        elif isinstance(event, ButtonUp):
            injector.button(*self._point(event.x, event.y), event.button, False)
        elif isinstance(event, Wheel):
            injector.wheel(*self._point(event.x, event.y), event.dx, event.dy)
            summary.scrolls += 1
        elif isinstance(event, KeyDown):
            injector.key(event.keysym, True)
            name = describe_key(event.keysym, event.modifiers)
            if name is not None:
                summary.special.append(name)
            elif not is_modifier(event.keysym):
                summary.keys += 1
        elif isinstance(event, KeyUp):
            injector.key(event.keysym, False)
