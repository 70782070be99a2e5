"""The words of the SLA e-mails, in English and Russian (DESIGN §11).

The broker does not know the language of a staff member or a client, so each
message carries both: the English text, then the Russian one (docs/workflow.md).
"""

from __future__ import annotations

from broker.sla.clock import ClockState
from broker.sla.contracts import Level

__all__ = ["closed_mail", "closure_mail", "escalation_mail", "progress_mail", "reminder_mail"]

_CLOCK = {
    "response": ("response", "реакции"),
    "resolution": ("resolution", "решения"),
}
_TO = {
    "assignee": ("you are the ticket's engineer", "вы — исполнитель заявки"),
    "supervisor": ("you are a supervisor", "вы — руководитель смены"),
    "owner": ("you are the client's incident manager", "вы — менеджер инцидента клиента"),
    "group": ("your skill group is asked to help", "вашу группу просят помочь"),
}


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}"


def escalation_mail(title: str, ticket_id: str, level: Level, state: ClockState) -> tuple[str, str]:
    """Subject and body of an escalation to staff."""
    en_clock, ru_clock = _CLOCK[level.clock]
    en_to, ru_to = _TO[level.to]
    pct = round(level.at * 100)
    breached = state.breached
    en_state = "has been BREACHED" if breached else f"has reached {pct} %"
    ru_state = "НАРУШЕН" if breached else f"израсходован на {pct} %"
    left = _hours(max(state.remaining_ms, 0) / 1000)
    subject = f"[Clearpane] SLA {en_clock} {en_state}: {title} / SLA {ru_clock}: {title}"
    body = (
        f'The {en_clock} time of ticket "{title}" ({ticket_id}) {en_state}.\n'
        f"Business time left: {left} h. You get this because {en_to}.\n"
        "Acknowledge it on the queue page so the level stops.\n"
        "\n"
        f"Время {ru_clock} по заявке «{title}» ({ticket_id}) {ru_state}.\n"
        f"Осталось рабочего времени: {left} ч. Письмо пришло вам, потому что {ru_to}.\n"
        "Подтвердите получение на странице очереди, чтобы уровень остановился.\n"
    )
    return subject, body


def closure_mail(title: str, resolution: str | None, auto_close_after_s: int) -> tuple[str, str]:
    """Subject and body asking the client to confirm a resolution."""
    hours = round(auto_close_after_s / 3600)
    note = resolution or "—"
    subject = f"[Clearpane] Resolved: {title} / Решено: {title}"
    body = (
        f'Your request "{title}" was marked resolved.\n'
        f"Resolution: {note}\n"
        "If the problem is solved, confirm it in the Clearpane window; if not, reopen it there.\n"
        f"Without an answer the request closes by itself after {hours} h.\n"
        "\n"
        f"Ваше обращение «{title}» отмечено как решённое.\n"
        f"Решение: {note}\n"
        "Если проблема решена, подтвердите это в окне Clearpane; если нет — откройте его снова там же.\n"
        f"Без ответа обращение закроется само через {hours} ч.\n"
    )
    return subject, body


def closed_mail(title: str, *, automatic: bool) -> tuple[str, str]:
    """Subject and body telling the client their request is closed."""
    subject = f"[Clearpane] Closed: {title} / Закрыто: {title}"
    if automatic:
        en = "was closed: nobody confirmed or reopened it in time"
        ru = "закрыто: его не подтвердили и не открыли снова вовремя"
    else:
        en, ru = "was closed as you confirmed", "закрыто по вашему подтверждению"
    body = f'Your request "{title}" {en}.\n\nВаше обращение «{title}» {ru}.\n'
    return subject, body


_PROGRESS = {
    "in_progress": ("An engineer is working on it.", "Инженер работает над ним."),
    "waiting_for_client": (
        "The help desk is waiting for your answer: please reply to your engineer.",
        "Служба поддержки ждёт вашего ответа: пожалуйста, ответьте инженеру.",
    ),
    "pending_vendor": (
        "The help desk is waiting for a vendor (a supplier of the product).",
        "Служба поддержки ждёт ответа поставщика.",
    ),
}


def progress_mail(title: str, status: str) -> tuple[str, str]:
    """Subject and body telling the client where their request stands now."""
    en, ru = _PROGRESS[status]
    subject = f"[Clearpane] {title}: {en} / {ru}"
    body = f'Your request "{title}": {en}\n\nВаше обращение «{title}»: {ru}\n'
    return subject, body


def reminder_mail(
    title: str, ticket_id: str, clock: str, fraction: float, n: int
) -> tuple[str, str]:
    """Subject and body of reminder ``n`` of an escalation nobody acknowledged."""
    en_clock, ru_clock = _CLOCK.get(clock, (clock, clock))
    pct = round(fraction * 100)
    subject = (
        f"[Clearpane] Reminder {n}: SLA {en_clock} {pct} %: {title} / "
        f"Напоминание {n}: SLA {ru_clock} {pct} %: {title}"
    )
    body = (
        f'Nobody has acknowledged the escalation of ticket "{title}" ({ticket_id}) yet: '
        f"its {en_clock} time reached {pct} %. Acknowledge it on the queue page.\n"
        "\n"
        f"Эскалацию по заявке «{title}» ({ticket_id}) ещё никто не принял: время "
        f"{ru_clock} израсходовано на {pct} %. Подтвердите её на странице очереди.\n"
    )
    return subject, body
