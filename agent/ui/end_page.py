"""The end page: what happened, whether the client's copy of the log verified
against the company's signed record (G10), and the rating."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from agent.i18n import _
from agent.observer import SessionOutcome, TicketStatus
from agent.ui.style import label, repolish

__all__ = ["EndPage"]


def _star_word(score: int) -> str:
    words = (_("poor"), _("not great"), _("OK"), _("good"), _("excellent"))
    return words[score - 1]


class EndPage(QWidget):
    """``rate(score, comment)`` sends the rating the client chose; ``answer_closure``
    (accept) the client's answer when the engineer resolved the ticket."""

    def __init__(
        self,
        rate: Callable[[int, str], None],
        answer_closure: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__()
        self._rate = rate
        self._answer_closure = answer_closure
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(10)
        self.end_title = label(_("The session is over"), "pageTitle")
        layout.addWidget(self.end_title)
        self.end_text = label("", "endText")
        layout.addWidget(self.end_text)
        layout.addWidget(label(_("Was the record of this session checked?"), "sectionTitle"))
        self.verify_label = label("", "verifyLabel")
        layout.addWidget(self.verify_label)
        self.verify_details = label("", "hint")
        self.verify_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.verify_details)
        layout.addSpacing(10)
        layout.addWidget(label(_("How well were you helped?"), "sectionTitle"))
        stars = QHBoxLayout()
        self.star_buttons: list[QPushButton] = []
        for score in range(1, 6):
            b = QPushButton("★" * score)
            b.setObjectName(f"rate{score}")
            b.setProperty("star", True)
            b.setToolTip(_("{score} of 5 — {word}", score=score, word=_star_word(score)))
            b.setAccessibleName(_("{score} of 5 — {word}", score=score, word=_star_word(score)))
            b.setCheckable(True)
            b.clicked.connect(lambda _checked=False, s=score: self._on_star(s))
            stars.addWidget(b)
            self.star_buttons.append(b)
        stars.addStretch(1)
        layout.addLayout(stars)
        layout.addWidget(label(_("1 star = poor, 5 stars = excellent"), "hint"))
        self.rating_comment = QLineEdit()
        self.rating_comment.setObjectName("ratingComment")
        self.rating_comment.setMaxLength(1000)
        self.rating_comment.setPlaceholderText(_("Anything you want to tell us? (optional)"))
        self.rating_comment.setAccessibleName(_("Comment on the help (optional)"))
        layout.addWidget(self.rating_comment)
        # Stars choose, this button sends the score together with the comment.
        self.rating_send = QPushButton(_("Send rating"))
        self.rating_send.setObjectName("ratingSend")
        self.rating_send.setAccessibleDescription(
            _("Sends your stars and comment to the help desk.")
        )
        self.rating_send.setEnabled(False)
        self.rating_send.clicked.connect(self._on_rating_send)
        layout.addWidget(self.rating_send, 0, Qt.AlignmentFlag.AlignLeft)
        self.score = 0
        self.rating_done = label("", "ratingDone")
        layout.addWidget(self.rating_done)
        self._build_closure(layout)
        layout.addStretch(1)

    def _build_closure(self, layout: QVBoxLayout) -> None:
        """The closure question (hidden until the engineer resolves the ticket)."""
        self.closure_box = QWidget()
        self.closure_box.setObjectName("closureBox")
        box = QVBoxLayout(self.closure_box)
        box.setContentsMargins(0, 10, 0, 0)
        box.addWidget(label(_("Is your problem solved?"), "sectionTitle"))
        self.closure_text = label("", "endText")
        box.addWidget(self.closure_text)
        row = QHBoxLayout()
        self.closure_yes = QPushButton(_("Yes, it is solved — close the request"))
        self.closure_yes.setObjectName("closureYes")
        self.closure_yes.setAccessibleDescription(
            _("Tells the help desk the problem is solved; the request is closed.")
        )
        self.closure_yes.clicked.connect(lambda: self._on_closure(True))
        self.closure_no = QPushButton(_("No, reopen the request"))
        self.closure_no.setObjectName("closureNo")
        self.closure_no.setAccessibleDescription(
            _("Tells the help desk the problem is not solved; the request opens again.")
        )
        self.closure_no.clicked.connect(lambda: self._on_closure(False))
        row.addWidget(self.closure_yes)
        row.addWidget(self.closure_no)
        row.addStretch(1)
        box.addLayout(row)
        self.closure_done_label = label("", "ratingDone")
        box.addWidget(self.closure_done_label)
        self.closure_box.hide()
        layout.addWidget(self.closure_box)

    def show_closure(self, ticket: TicketStatus) -> None:
        """The engineer resolved the ticket: ask the client to confirm or reopen."""
        text = _("The engineer marked your request resolved.")
        if ticket.resolution:
            text += " " + _("Resolution: {resolution}", resolution=ticket.resolution)
        text += " " + _("Without an answer it closes by itself.")
        self.closure_text.setText(text)
        self.closure_yes.setEnabled(True)
        self.closure_no.setEnabled(True)
        self.closure_done_label.setText("")
        self.closure_box.show()

    def _on_closure(self, accept: bool) -> None:
        if self._answer_closure is None:
            return
        self.closure_yes.setEnabled(False)
        self.closure_no.setEnabled(False)
        self.closure_done_label.setText(_("Sending your answer…"))
        self._answer_closure(accept)

    def closure_done(self, ticket: TicketStatus) -> None:
        """The broker took the answer."""
        if ticket.status == "closed":
            self.closure_done_label.setText(_("Thank you. Your request is closed."))
        else:
            self.closure_done_label.setText(
                _("Your request was reopened: the help desk will get back to you.")
            )

    def show_outcome(self, outcome: SessionOutcome) -> None:
        """What happened, whether the log verified, and whether rating is possible."""
        self.end_text.setText(outcome.final_text)
        v = outcome.verification
        details: list[str] = []
        if v is None:
            self.verify_label.setText(_("No record of this session was kept on this computer."))
            self.verify_label.setProperty("ok", None)
        elif v.ok:
            if "signature not checked" in v.summary:
                headline = _(
                    "✓ Your copy of what happened matches your company's record, but its "
                    "signature could not be checked on this computer."
                )
            else:
                headline = _(
                    "✓ Verified: your copy of what happened matches the record your "
                    "company signed. Nothing was added, removed or changed."
                )
            self.verify_label.setText(headline)
            self.verify_label.setProperty("ok", "true")
            details.append(_("Details: {summary}", summary=v.summary))
        else:
            self.verify_label.setText(
                _(
                    "⚠ Not verified: your copy of what happened does NOT match your company's "
                    "signed record. Keep the folder below and tell your IT or security contact."
                )
            )
            self.verify_label.setProperty("ok", "false")
            details.extend("• " + p for p in v.problems)
        if v is not None and outcome.log_dir:
            details.append(_("Your copy of the record: {path}", path=outcome.log_dir))
        self.verify_details.setText("\n".join(details))
        repolish(self.verify_label)
        # After a kill the socket is closed, but the rating goes over REST with the
        # session token (can_rate); without a session there is nothing to rate.
        for b in self.star_buttons:
            b.setEnabled(outcome.can_rate)
        self.rating_comment.setEnabled(outcome.can_rate)
        if not outcome.can_rate:
            self.rating_done.setText(_("This session cannot be rated: the connection is closed."))

    def _on_star(self, score: int) -> None:
        """A star chooses the score; "Send rating" sends it with the comment."""
        self.score = score
        for i, b in enumerate(self.star_buttons, 1):
            b.setChecked(i == score)
        self.rating_send.setEnabled(True)
        self.rating_done.setText(
            _("You chose {score} of 5. Add a comment if you like, then send.", score=score)
        )

    def _on_rating_send(self) -> None:
        score = self.score
        if not 1 <= score <= 5:
            return
        self._rate(score, self.rating_comment.text().strip())
        for b in self.star_buttons:
            b.setEnabled(False)
        self.rating_comment.setEnabled(False)
        self.rating_send.setEnabled(False)
        self.rating_done.setText(_("Thank you — you rated {score} of 5.", score=score))
