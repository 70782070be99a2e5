"""What the waiting client reads about their place in line (issue 20): the position
and expected wait the broker pushes (``queue.position``, SPEC §3.2) or returned with
the request, and the latest answer time (the SLA deadline)."""

from __future__ import annotations

import math
import time

from agent.i18n import _, ngettext


def queue_text(position: int, expected_wait_s: int | None, answer_by_ms: int | None) -> str:
    """One line: "You are number 3 in the queue. Expected wait: about 7 minutes." —
    without an estimate, the latest answer time instead."""
    if position <= 1:
        parts = [_("You are next in the queue.")]
    else:
        parts = [_("You are number {n} in the queue.", n=position)]
    if expected_wait_s is not None:
        minutes = max(1, math.ceil(expected_wait_s / 60))
        parts.append(
            ngettext(
                "Expected wait: about {n} minute.", "Expected wait: about {n} minutes.", minutes
            )
        )
    elif answer_by_ms is not None:
        at = time.strftime("%H:%M", time.localtime(answer_by_ms / 1000))
        parts.append(_("An engineer answers by {time} at the latest.", time=at))
    return " ".join(parts)
