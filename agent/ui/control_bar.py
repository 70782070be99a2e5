"""The control bar, always visible on the session page: video call, take back
control, pause, and the red kill button; under it the banner that says who is using
the mouse and keyboard. The bar only reports clicks; the window calls the session."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFrame, QPushButton, QVBoxLayout, QWidget

from agent.i18n import _
from agent.ui.flow import FlowLayout
from agent.ui.style import label
from agent.ui.words import KILL_SHORTCUT, kill_text, names, pause_text, resume_text

__all__ = ["ControlBar"]


class ControlBar(QWidget):
    """The session's buttons and the control banner.

    ``call(start)`` starts (True) or hangs up (False) a video call and returns whether
    there was a session to do it in; the other callbacks take no argument."""

    def __init__(
        self,
        *,
        call: Callable[[bool], bool],
        revoke: Callable[[], None],
        pause: Callable[[], None],
        kill: Callable[[], None],
    ) -> None:
        super().__init__()
        self._call = call
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(8)
        bar = QFrame()
        bar.setObjectName("controlBar")
        bar_layout = FlowLayout(bar)  # wraps with large text instead of cutting off
        bar_layout.setContentsMargins(10, 8, 10, 8)
        self.pause_button = QPushButton(pause_text())
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setToolTip(_("Stop sending your screen for a moment; resume when ready"))
        self.pause_button.clicked.connect(pause)
        self.revoke_control = QPushButton(_("Take back control"))
        self.revoke_control.setObjectName("revokeControlButton")
        self.revoke_control.setToolTip(
            _("The engineer can still see, but no longer use, your mouse and keyboard")
        )
        self.revoke_control.clicked.connect(revoke)
        self.revoke_control.setVisible(False)
        self.kill_button = QPushButton(kill_text())
        self.kill_button.setObjectName("killButton")
        self.kill_button.setToolTip(
            _(
                "End the session at once: nothing more is sent ({shortcut} works anywhere)",
                shortcut=KILL_SHORTCUT,
            )
        )
        self.kill_button.setAccessibleDescription(self.kill_button.toolTip())
        self.kill_button.clicked.connect(kill)
        self.call_button = QPushButton(_("Video call"))
        self.call_button.setObjectName("callButton")
        self.call_button.setToolTip(_("Talk face to face: your camera and microphone open"))
        self.call_button.clicked.connect(self._on_call_button)
        bar_layout.addWidget(self.call_button)
        bar_layout.addWidget(self.revoke_control)
        bar_layout.addWidget(self.pause_button)
        bar_layout.addWidget(self.kill_button)
        outer.addWidget(bar)
        self.banner = label("", "controlBanner")
        self.banner.setVisible(False)
        outer.addWidget(self.banner)

    def show_paused(self, paused: bool) -> None:
        """The pause button offers the other state."""
        self.pause_button.setText(resume_text() if paused else pause_text())

    def show_control(self, controlled_by: tuple[str, ...]) -> None:
        """Who uses the mouse and keyboard (nobody: banner and "take back" hidden)."""
        controlled = bool(controlled_by)
        self.banner.setVisible(controlled)
        self.revoke_control.setVisible(controlled)
        if controlled:
            self.banner.setText(
                _(
                    "{names} can use your mouse and keyboard. Click “Take back control” to "
                    "stop that, or “Stop now” ({shortcut}) to end everything.",
                    names=names(controlled_by),
                    shortcut=KILL_SHORTCUT,
                )
            )

    def show_killed(self) -> None:
        """After the kill switch: nothing left to press."""
        self.kill_button.setEnabled(False)
        self.kill_button.setText(_("Stopped"))
        self.pause_button.setEnabled(False)
        self.revoke_control.setVisible(False)
        self.banner.setVisible(False)

    def show_in_call(self, in_call: bool) -> None:
        """The call button hangs up during a call and starts one otherwise."""
        self.call_button.setText(_("Hang up") if in_call else _("Video call"))

    def _on_call_button(self) -> None:
        start = self.call_button.text() == _("Video call")
        if self._call(start):
            self.show_in_call(start)
