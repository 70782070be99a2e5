"""The follow-ups the connector writes on a django-helpdesk ticket, and how it
recognises them again (its only memory of what it has done is the ticket itself, so a
restart, a retried webhook or two connectors never write one twice).

The texts are for the help desk's staff and the client (django-helpdesk mails public
follow-ups to the submitter), in the help desk's language: English by default,
Russian with ``CLEARPANE_CONNECTOR_LANGUAGE=ru``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "INVITATION_MARK",
    "TWIN_MARK",
    "has_invitation",
    "has_summary",
    "invitation_text",
    "is_twin_of",
    "summary_mark",
    "summary_text",
    "twin_description",
]

#: The first line of an invitation follow-up (also how it is found again).
INVITATION_MARK = "[Clearpane] remote assistance code"
#: The first line of a twin's description: a client's own request in Clearpane (the
#: client is connected already: no invitation), followed by the Clearpane ticket id.
TWIN_MARK = "[Clearpane] client request, ticket"

_TEXTS = {
    "en": {
        "invite": (
            "{mark}: {code}\n\n"
            "Start the Clearpane agent and enter this code to let our engineer see your "
            "screen. You decide what they may do and can stop at any moment. "
            "The code works once, until {expires}."
        ),
        "summary": "[Clearpane] session {sid} summary",
        "outcome": "Outcome",
        "resolution": "Resolution",
        "engineer": "Engineer",
        "duration": "Duration",
        "answered": "Time to answer",
        "rating": "Client's rating",
        "signed": "Signed summary: verify with `clearpane audit verify-summary`.",
        "minutes": "{m} min {s} s",
        "actions": "Engineer's input",
        "counts": "{clicks} clicks, {keys} keys",
    },
    "ru": {
        "invite": (
            "{mark}: {code}\n\n"
            "Запустите агент Clearpane и введите этот код, чтобы наш инженер увидел ваш "
            "экран. Вы решаете, что ему разрешено, и можете прервать сеанс в любой момент. "
            "Код действует один раз, до {expires}."
        ),
        "summary": "[Clearpane] session {sid} summary",  # the mark stays the same in every language
        "outcome": "Итог",
        "resolution": "Решение",
        "engineer": "Инженер",
        "duration": "Длительность",
        "answered": "Время до ответа",
        "rating": "Оценка клиента",
        "signed": "Подписанная сводка: проверка — `clearpane audit verify-summary`.",
        "minutes": "{m} мин {s} с",
        "actions": "Действия инженера",
        "counts": "щелчков: {clicks}, клавиш: {keys}",
    },
}


def _t(language: str) -> Mapping[str, str]:
    return _TEXTS.get(language, _TEXTS["en"])


def invitation_text(code: str, expires_at: str, language: str = "en") -> str:
    """The follow-up that gives the client the code."""
    return _t(language)["invite"].format(mark=INVITATION_MARK, code=code, expires=expires_at)


def summary_mark(session_id: str) -> str:
    """The first line of a session's summary follow-up."""
    return _TEXTS["en"]["summary"].format(sid=session_id)


def twin_description(clearpane_ticket_id: str, description: str) -> str:
    """The description of a help-desk twin of a client-opened Clearpane ticket."""
    return f"{TWIN_MARK} {clearpane_ticket_id}\n\n{description}".strip()


def is_twin_of(ticket: Mapping[str, Any], clearpane_ticket_id: str) -> bool:
    """Whether this help-desk ticket is the twin of that Clearpane ticket."""
    first = str(ticket.get("description") or "").split("\n", 1)[0].strip()
    return first == f"{TWIN_MARK} {clearpane_ticket_id}"


def has_invitation(ticket: Mapping[str, Any]) -> bool:
    """Whether the connector already put an invitation on this ticket, or needs none
    (a twin of a client's own request)."""
    if str(ticket.get("description") or "").startswith(TWIN_MARK):
        return True
    return any(
        str(f.get("comment") or "").startswith(INVITATION_MARK)
        for f in ticket.get("followup_set") or ()
    )


def has_summary(ticket: Mapping[str, Any], session_id: str) -> bool:
    """Whether this session's summary is already on the ticket."""
    mark = summary_mark(session_id)
    return any(
        str(f.get("comment") or "").startswith(mark) for f in ticket.get("followup_set") or ()
    )


def _duration(session: Mapping[str, Any], name: str, language: str) -> str | None:
    """``<name>_s`` (session.ended) or ``<name>_ms`` (the signed summary) in words."""
    seconds = session.get(f"{name}_s")
    if not isinstance(seconds, int | float) and isinstance(session.get(f"{name}_ms"), int):
        seconds = session[f"{name}_ms"] / 1000
    if not isinstance(seconds, int | float):
        return None
    whole = round(seconds)
    return _t(language)["minutes"].format(m=whole // 60, s=whole % 60)


def _actions(actions: Any, language: str) -> str | None:
    """The engineer's clicks and keys, counted (the summary never has their content)."""
    if not isinstance(actions, Mapping):
        return None
    clicks, keys = actions.get("clicks"), actions.get("keys")
    if not isinstance(clicks, int) or not isinstance(keys, int):
        return None
    return _t(language)["counts"].format(clicks=clicks, keys=keys)


def summary_text(session: Mapping[str, Any], *, signed: bool, language: str = "en") -> str:
    """A session's summary as a follow-up: outcome, resolution, engineer, duration, time
    to answer, rating, the engineer's input counted. ``session`` is the
    ``session.ended`` event's session (durations ``*_s``) or the signed summary
    (``*_ms``)."""
    t = _t(language)
    lines = [summary_mark(str(session.get("id") or session.get("session_id")))]
    engineer = session.get("engineer")
    if not isinstance(engineer, Mapping):
        people = [p for p in session.get("participants") or () if p.get("role") == "engineer"]
        engineer = people[0] if people else None
    rating = session.get("rating")
    rows = [
        (t["outcome"], session.get("outcome")),
        (t["resolution"], session.get("resolution")),
        (t["engineer"], engineer.get("name") if isinstance(engineer, Mapping) else None),
        (t["duration"], _duration(session, "duration", language)),
        (t["answered"], _duration(session, "time_to_answer", language)),
        (t["rating"], f"{rating['score']}/5" if isinstance(rating, Mapping) else None),
        (t["actions"], _actions(session.get("actions"), language)),
    ]
    lines += [f"{label}: {value}" for label, value in rows if value]
    if signed:
        lines.append(t["signed"])
    return "\n".join(lines)
