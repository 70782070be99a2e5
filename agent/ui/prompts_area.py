"""Where consent prompts stack: a scroll area with a bounded height, so a second
prompt during control never squeezes the log and chat to a few lines (issue 20
item 7). Each prompt is a :class:`agent.ui.consent_panel.ConsentPanel`."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from agent.consent import Prompt
from agent.i18n import _
from agent.ui.consent_panel import ConsentPanel

__all__ = ["PromptsArea"]


class PromptsArea(QScrollArea):
    """The open prompts by request id (``panels``); hidden while there are none."""

    def __init__(
        self, answer: Callable[[str, list[str]], None], clock_ms: Callable[[], int]
    ) -> None:
        super().__init__()
        self._answer = answer
        self._clock = clock_ms
        self.panels: dict[str, ConsentPanel] = {}
        self.holder = QWidget()
        self.box = QVBoxLayout(self.holder)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.setObjectName("promptsScroll")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # wrap
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(self.holder)
        self.setVisible(False)
        # Not a tab stop itself: Tab goes straight to the prompts' choices (the area
        # scrolls to the focused one); named for screen readers.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAccessibleName(_("Requests waiting for your answer"))
        self.setAccessibleDescription(
            _("Each request says who asks for what; nothing is allowed until you confirm.")
        )

    def add(self, prompt: Prompt, room: int) -> None:
        """Show a new prompt; ``room`` is the window's height."""
        panel = ConsentPanel(prompt, self._answer, self._clock)
        self.panels[prompt.request_id] = panel
        self.box.addWidget(panel)
        self._order_tabs()
        self.fit(room)

    def _order_tabs(self) -> None:
        """Tab reaches the prompts where they are shown — after the control bar, before
        the masks, log and chat — not after everything (new widgets join the end of the
        window's focus chain)."""
        prev: QWidget = self
        step = self.previousInFocusChain()
        while step is not None and step is not self:
            if not self.isAncestorOf(step) and step.focusPolicy() & Qt.FocusPolicy.TabFocus:
                prev = step  # the last stop before this area
                break
            step = step.previousInFocusChain()
        for panel in self.panels.values():
            for w in panel.findChildren(QWidget):
                if w.focusPolicy() & Qt.FocusPolicy.TabFocus:
                    QWidget.setTabOrder(prev, w)
                    prev = w

    def remove(self, request_id: str, room: int) -> None:
        """Take an answered (or timed-out) prompt away."""
        panel = self.panels.pop(request_id, None)
        if panel is not None:
            panel.setParent(None)
            panel.deleteLater()
        self.fit(room)

    def clear(self) -> None:
        """Drop every prompt (the session ended)."""
        for request_id in list(self.panels):
            self.panels.pop(request_id).deleteLater()

    def fit(self, room: int) -> None:
        """Show the area only with prompts, and at most about 2/5 of ``room``: the log
        and chat keep their space; more prompts scroll."""
        count = len(self.panels)
        self.setVisible(count > 0)
        if count:
            wanted = sum(p.sizeHint().height() for p in self.panels.values()) + 8 * count
            self.setFixedHeight(min(wanted, max(200, room * 2 // 5)))

    def tick(self) -> None:
        """Advance every prompt's countdown."""
        for panel in self.panels.values():
            panel.tick()
