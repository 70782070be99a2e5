"""E-mail by SMTP from a durable outbox (escalations, the client's progress and
closure, docs/workflow.md).

A message is written into ``mail_outbox`` in the transaction of what it reports
(:func:`queue_mail`), so a change that rolls back sends nothing and a crash after the
commit loses nothing. The :class:`MailWorker` sends due messages with the standard
library's :mod:`smtplib` in a worker thread (no extra dependency; one message per
connection is plenty at help-desk volumes), retrying with backoff. With several
nodes each message is claimed by one (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

Disabled when ``CLEARPANE_SMTP_HOST`` is empty: nothing is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.clock import CLOCK, Clock
from broker.config import CONFIG
from broker.store.db import DB, Database
from broker.store.queries import new_id
from broker.store.sla_models import MailOutboxModel

__all__ = ["MAILER", "MailSettings", "MailWorker", "mail_ctx", "queue_mail"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_S = (10, 30, 60, 300, 900, 1800, 3600)


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where and as whom to send."""

    host: str
    port: int
    sender: str
    starttls: bool = False
    timeout_s: float = 10.0


def queue_mail(s: AsyncSession, *, to: str, subject: str, body: str, at: int) -> str:
    """Add a message to the outbox in the caller's transaction; its id."""
    mail_id = new_id()
    s.add(
        MailOutboxModel(
            id=mail_id,
            to_addr=to,
            subject=subject[:300],
            body=body,
            state="pending",
            attempts=0,
            created_at_ms=at,
            next_attempt_ms=at,
        )
    )
    return mail_id


def _send(settings: MailSettings, to: str, subject: str, body: str) -> None:
    """One message over one SMTP connection (runs in a thread)."""
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="clearpane")
    msg.set_content(body)
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
        if settings.starttls:
            smtp.starttls()
        smtp.send_message(msg)


class MailWorker:
    """Sends the outbox: :meth:`run_once` sends what is due; :meth:`run` loops."""

    def __init__(
        self, db: Database, clock: Clock, settings: MailSettings, *, interval_s: float
    ) -> None:
        self._db = db
        self._clock = clock
        self.settings = settings
        self._interval_s = interval_s
        self._wake = asyncio.Event()
        self._round = asyncio.Lock()  # one round at a time in this process

    def wake(self) -> None:
        """Send now rather than at the next interval (after a commit that queued)."""
        self._wake.set()

    async def run_once(self, limit: int = 50) -> int:
        """Send due messages; the number sent."""
        async with self._round:
            return await self._send_due(limit)

    async def _send_due(self, limit: int) -> int:
        now = self._clock.now_ms()
        sent = 0
        async with self._db.sessions.begin() as s:
            query = (
                select(MailOutboxModel)
                .where(MailOutboxModel.state == "pending", MailOutboxModel.next_attempt_ms <= now)
                .order_by(MailOutboxModel.next_attempt_ms, MailOutboxModel.id)
                .limit(limit)
            )
            if not self._db.is_sqlite:
                query = query.with_for_update(skip_locked=True)  # one node per message
            for m in list(await s.scalars(query)):
                m.attempts += 1
                try:
                    await asyncio.to_thread(_send, self.settings, m.to_addr, m.subject, m.body)
                except (OSError, smtplib.SMTPException) as exc:
                    m.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                    if m.attempts >= MAX_ATTEMPTS:
                        m.state = "failed"
                        log.error(
                            "mail %s to %s failed for good: %s", m.id, m.to_addr, m.last_error
                        )
                    else:
                        delay = BACKOFF_S[min(m.attempts - 1, len(BACKOFF_S) - 1)]
                        m.next_attempt_ms = now + delay * 1000
                        log.warning("mail %s: %s; retrying in %d s", m.id, m.last_error, delay)
                    continue
                m.state, m.sent_at_ms, m.last_error = "sent", now, None
                sent += 1
        return sent

    async def run(self) -> None:
        """Send forever; a failed round is logged and retried."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mail round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()


# The mail worker, when SMTP is configured (absent otherwise).
MAILER = web.AppKey[MailWorker]("mailer")


async def mail_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: run the mail worker if ``smtp_host`` is set."""
    config = app[CONFIG]
    if not config.smtp_host:
        yield
        return
    settings = MailSettings(
        config.smtp_host, config.smtp_port, config.smtp_from, config.smtp_starttls
    )
    worker = MailWorker(app[DB], app[CLOCK], settings, interval_s=config.mail_interval_s)
    app[MAILER] = worker
    task = asyncio.create_task(worker.run(), name="clearpane-mail")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
