"""The ring box: the engineer asks for a video call and the client decides. Nothing
opens before the client accepts."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from agent.i18n import _
from agent.ui.style import esc

__all__ = ["RingBox"]


class RingBox(QFrame):
    """Hidden until :meth:`ring`; ``answer(accept)`` gets the client's choice."""

    def __init__(self, answer: Callable[[bool], None]) -> None:
        super().__init__()
        self.setObjectName("ringBox")
        self._answer = answer
        layout = QHBoxLayout(self)
        self.ring_label = QLabel()
        self.ring_label.setTextFormat(Qt.TextFormat.RichText)  # the name goes through esc
        self.ring_label.setWordWrap(True)
        self.ring_accept = QPushButton(_("Accept call"))
        self.ring_accept.setObjectName("ringAccept")
        self.ring_accept.setAccessibleDescription(
            _("Starts the video call: your camera and microphone open now.")
        )
        self.ring_decline = QPushButton(_("Decline"))
        self.ring_decline.setObjectName("ringDecline")
        self.ring_decline.setAccessibleDescription(_("Says no to the call; the session goes on."))
        self.ring_accept.clicked.connect(lambda: self._on_answer(True))
        self.ring_decline.clicked.connect(lambda: self._on_answer(False))
        layout.addWidget(self.ring_label, 1)
        layout.addWidget(self.ring_decline)
        layout.addWidget(self.ring_accept)
        self.setVisible(False)

    def ring(self, name: str) -> None:
        """Show who asks for a call."""
        self.ring_label.setText(
            _(
                "<b>{name}</b> asks for a video call. Your camera and microphone open "
                "only if you accept.",
                name=esc(name),
            )
        )
        self.setVisible(True)

    def _on_answer(self, accept: bool) -> None:
        self.setVisible(False)
        self._answer(accept)
