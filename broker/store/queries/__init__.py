"""Query functions: the only way handlers, the relay and the CLI read or change the
store. Each opens its own transaction and returns frozen dataclasses, never ORM
objects.

Times are epoch milliseconds (``at``); ``db`` is a :class:`broker.store.db.Database`.
Functions that change one object raise :class:`broker.errors.NotFound` if it does not
exist; getters return ``None`` instead.

Used by the relay (CONTRACTS.md): :func:`get_session`, :func:`set_session_state`,
:func:`mark_answered`, :func:`mark_ended`, :func:`set_rating`, :func:`get_user`.
"""

from __future__ import annotations

from broker.store.queries.logins import (
    clear_login_failures,
    get_login_attempt,
    record_login_failure,
)
from broker.store.queries.security import (
    Organisation,
    bump_token_generation,
    get_mfa,
    get_organisation,
    list_organisations,
    put_organisation,
    set_mfa,
    spend_token,
    token_spent,
)
from broker.store.queries.sessions import (
    create_request,
    get_session,
    list_escalations,
    list_sessions,
    mark_answered,
    mark_ended,
    record_due_escalations,
    set_rating,
    set_session_state,
    waiting_sessions,
)
from broker.store.queries.ticket_history import list_ticket_history
from broker.store.queries.tickets import (
    TicketScope,
    create_invitation,
    create_ticket,
    get_ticket,
    list_tickets,
    redeem_invitation,
    ticket_in_scope,
    update_ticket,
)
from broker.store.queries.users import (
    count_users,
    create_user,
    get_credentials,
    get_tier,
    get_user,
    get_user_by_username,
    list_tiers,
    list_users,
    set_tier,
    update_user,
)
from broker.store.queries.values import (
    END_REASONS,
    ROLES,
    SESSION_STATES,
    TICKET_STATUSES,
    WAITING_STATES,
    Escalation,
    Invitation,
    LoginAttempt,
    QueueItem,
    SessionInfo,
    SlaTier,
    Ticket,
    TicketChange,
    User,
    new_id,
)

__all__ = [
    "END_REASONS",
    "ROLES",
    "SESSION_STATES",
    "TICKET_STATUSES",
    "WAITING_STATES",
    "Escalation",
    "Invitation",
    "LoginAttempt",
    "Organisation",
    "QueueItem",
    "SessionInfo",
    "SlaTier",
    "Ticket",
    "TicketChange",
    "TicketScope",
    "User",
    "bump_token_generation",
    "clear_login_failures",
    "count_users",
    "create_invitation",
    "create_request",
    "create_ticket",
    "create_user",
    "get_credentials",
    "get_login_attempt",
    "get_mfa",
    "get_organisation",
    "get_session",
    "get_ticket",
    "get_tier",
    "get_user",
    "get_user_by_username",
    "list_escalations",
    "list_organisations",
    "list_sessions",
    "list_ticket_history",
    "list_tickets",
    "list_tiers",
    "list_users",
    "mark_answered",
    "mark_ended",
    "new_id",
    "put_organisation",
    "record_due_escalations",
    "record_login_failure",
    "redeem_invitation",
    "set_mfa",
    "set_rating",
    "set_session_state",
    "set_tier",
    "spend_token",
    "ticket_in_scope",
    "token_spent",
    "update_ticket",
    "update_user",
    "waiting_sessions",
]
