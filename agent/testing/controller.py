"""An ``AgentController`` on the pure state machines with no network, so UI tests
prove that the window's buttons drive consent and the kill switch for real."""

from __future__ import annotations

import time
from typing import Any

from agent.consent import Prompt
from agent.observer import SessionObserver, SessionStatus

__all__ = ["MachineController"]


class MachineController:
    """An ``AgentController`` wired straight to the pure state machines, with no
    network: lets UI tests prove that buttons drive consent and kill for real."""

    def __init__(self, observer: SessionObserver, clock_ms: Any = None) -> None:
        from agent.consent import ConsentMachine
        from agent.killswitch import KillSwitch

        self.observer = observer
        self.consent = ConsentMachine()
        self.killswitch = KillSwitch()
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.chats: list[str] = []
        self.masks: list[tuple[Any, Any]] = []
        self.ratings: list[tuple[int, str]] = []
        self.closures: list[tuple[bool, str]] = []
        self.shown: list[str] = []
        self.calls: list[str] = []

    def offer(self, request_id: str, viewer_id: str, name: str, *perms: str) -> Prompt:
        """Simulate a ``consent.request`` arriving from the broker."""
        prompt = self.consent.request(
            request_id=request_id, viewer_id=viewer_id, user_id="u-" + viewer_id,
            user_name=name, role="engineer", ticket_id="T-42", ticket_title="Printer offline",
            permissions=perms, now_ms=self.clock_ms(),
        )  # fmt: skip
        self.observer.prompt(prompt)
        return prompt

    def _status(self) -> None:
        from agent.observer import ViewerStatus

        viewers = tuple(
            ViewerStatus(v, name, role, perms)
            for v, (name, role, perms) in self.consent.viewers().items()
        )
        controlled = tuple(
            self.consent.viewer_name(v) for v in self.consent.viewers_with("control")
        )
        phase = (
            "ended" if self.killswitch.killed else ("paused" if self.killswitch.paused else "live")
        )
        self.observer.status(SessionStatus(phase, "s-1", "T-42", "Printer offline", viewers,
                                           self.killswitch.capture_allowed(), controlled))  # fmt: skip

    def kill(self, source: str = "button") -> object:
        record = self.killswitch.kill(self.clock_ms(), source)
        decisions, _ = self.consent.close()
        for d in decisions:
            self.observer.prompt_closed(d)
        self._status()
        return record

    def answer(self, request_id: str, allowed: Any) -> None:
        decision = self.consent.answer(request_id, allowed, self.clock_ms())
        self.observer.prompt_closed(decision)
        self._status()

    def mark_shown(self, request_id: str) -> None:
        self.consent.mark_shown(request_id)
        self.shown.append(request_id)

    def revoke(self, viewer_id: str, permissions: Any) -> None:
        self.consent.revoke(viewer_id, permissions)
        self._status()

    def pause(self) -> None:
        self.killswitch.pause()
        self._status()

    def resume(self) -> None:
        self.killswitch.resume()
        self._status()

    def send_chat(self, text: str) -> None:
        self.chats.append(text)

    def set_masks(self, regions: Any, windows: Any = ()) -> None:
        self.masks.append((list(regions), list(windows)))

    def rate(self, score: int, comment: str = "") -> None:
        self.ratings.append((score, comment))

    def answer_closure(self, accept: bool, comment: str = "") -> None:
        self.closures.append((accept, comment))

    def call_start(self) -> None:
        self.calls.append("start")

    def call_accept(self) -> None:
        self.calls.append("accept")

    def call_decline(self) -> None:
        self.calls.append("decline")

    def call_hangup(self) -> None:
        self.calls.append("hangup")

    def call_mute(self, *, audio: bool, video: bool) -> None:
        self.calls.append(f"mute audio={audio} video={video}")

    def call_view(self) -> Any:
        from agent.observer import CallView

        return CallView()
