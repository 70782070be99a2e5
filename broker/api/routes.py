"""The route table: every HTTP route of the API, with the roles allowed to call it.
This is the one place where roles are declared (enforced by
:func:`broker.auth.policy.guard`)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from broker.api import (
    admin_certs,
    agent,
    agent_log,
    api_keys,
    auth_views,
    handover,
    meta,
    mfa_views,
    oidc_views,
    replies,
    reports,
    routing,
    sessions,
    sla,
    sla_admin,
    summary,
    ticket_sync,
    tickets,
    users,
)
from broker.auth.policy import (
    ADMIN,
    ENGINEERS,
    ESCALATION_READERS,
    INTEGRATION,
    JOINERS,
    PUBLIC,
    QUEUE_READERS,
    STAFF,
    Handler,
    guard,
)

__all__ = ["API_PREFIX", "ROUTES", "Route", "setup_routes"]

API_PREFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class Route:
    """One API route: method, path under :data:`API_PREFIX`, handler, allowed roles
    (``None`` = public) and the roles in words for docs and OpenAPI."""

    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", meta.health, PUBLIC),
    Route("POST", "/auth/login", auth_views.login, PUBLIC),
    Route("POST", "/auth/logout", auth_views.logout, PUBLIC),
    # Staff single sign-on with OpenID Connect (issue 18, broker/api/oidc_views.py).
    Route("GET", "/auth/methods", oidc_views.auth_methods, PUBLIC),
    Route("GET", "/auth/oidc/login", oidc_views.oidc_login, PUBLIC),
    Route("GET", "/auth/oidc/callback", oidc_views.oidc_callback, PUBLIC),
    Route("GET", "/me", auth_views.me, STAFF),
    Route("POST", "/auth/mfa/setup", mfa_views.mfa_setup, STAFF),
    Route("POST", "/auth/mfa/enable", mfa_views.mfa_enable, STAFF),
    Route("POST", "/auth/mfa/disable", mfa_views.mfa_disable, STAFF),
    Route("POST", "/auth/password", auth_views.change_password, STAFF),
    Route("GET", "/tickets", tickets.list_tickets, STAFF | INTEGRATION),
    Route("POST", "/tickets", tickets.create_ticket, ENGINEERS | INTEGRATION),
    # Issue 18: ticket sync by the help desk's reference (broker/api/ticket_sync.py).
    Route(
        "GET",
        "/tickets/by-ref/{source}/{external_ref}",
        ticket_sync.get_by_ref,
        STAFF | INTEGRATION,
    ),
    Route(
        "PUT",
        "/tickets/by-ref/{source}/{external_ref}",
        ticket_sync.put_by_ref,
        ENGINEERS | INTEGRATION,
    ),
    Route("GET", "/tickets/{ticket_id}", tickets.get_ticket, STAFF | INTEGRATION),
    Route("PATCH", "/tickets/{ticket_id}", tickets.update_ticket, ENGINEERS | INTEGRATION),
    Route("GET", "/tickets/{ticket_id}/history", tickets.ticket_history, STAFF | INTEGRATION),
    Route(
        "POST",
        "/tickets/{ticket_id}/invitations",
        tickets.create_invitation,
        ENGINEERS | INTEGRATION,
    ),
    Route("GET", "/queue", sessions.queue, QUEUE_READERS),
    Route("GET", "/sessions", sessions.list_sessions, STAFF | INTEGRATION),
    Route("GET", "/sessions/{session_id}", sessions.get_session, STAFF | INTEGRATION),
    # Issue 18: the signed session summary (broker/api/summary.py, broker/summary/).
    Route("GET", "/sessions/{session_id}/summary", summary.session_summary, STAFF | INTEGRATION),
    Route("POST", "/sessions/{session_id}/join", sessions.join_session, JOINERS),
    Route("POST", "/sessions/{session_id}/end", sessions.end_session, JOINERS),
    Route("GET", "/escalations", sessions.list_escalations, ESCALATION_READERS),
    # routing (issue 19): presence, and manual assignment by the first line
    Route("GET", "/presence", routing.list_presence, QUEUE_READERS | ESCALATION_READERS),
    Route("GET", "/me/presence", routing.get_my_presence, QUEUE_READERS),
    Route("PUT", "/me/presence", routing.put_my_presence, QUEUE_READERS),
    Route("POST", "/sessions/{session_id}/assign", routing.assign_session, ESCALATION_READERS),
    Route("GET", "/staff", routing.list_staff, STAFF),  # names for the viewer
    Route("GET", "/ticket-lifecycle", routing.ticket_lifecycle, STAFF | INTEGRATION),
    # service reports (issue 19): supervisors, admins and quality reviewers
    Route("GET", "/reports/sla", reports.sla_report, ESCALATION_READERS | {"reviewer"}),
    # transfer and collaboration (issue 19)
    Route("POST", "/sessions/{session_id}/transfer", handover.transfer_session, JOINERS),
    Route("POST", "/sessions/{session_id}/invite", handover.invite_colleague, JOINERS),
    Route("GET", "/sessions/{session_id}/handovers", handover.session_handovers, STAFF),
    Route("GET", "/me/handovers", handover.my_handovers, QUEUE_READERS),
    # Canned replies: engineers read them, supervisors (and admins) keep them.
    Route("GET", "/canned-replies", replies.list_replies, ENGINEERS),
    Route("POST", "/canned-replies", replies.create_reply, ESCALATION_READERS),
    Route("PATCH", "/canned-replies/{reply_id}", replies.update_reply, ESCALATION_READERS),
    Route("DELETE", "/canned-replies/{reply_id}", replies.delete_reply, ESCALATION_READERS),
    Route("POST", "/agent/requests", agent.create_request, PUBLIC),
    Route("POST", "/agent/redeem", agent.redeem_invitation, PUBLIC),
    # Not staff: authenticated by the agent's session token inside the handler.
    Route("POST", "/agent/rating", agent.rate_session, PUBLIC),
    Route("GET", "/agent/log", agent_log.agent_log, PUBLIC),  # evidence: the log after the end
    Route("GET", "/users", users.list_users, ADMIN),
    Route("POST", "/users", users.create_user, ADMIN),
    Route("PATCH", "/users/{user_id}", users.update_user, ADMIN),
    Route("GET", "/sla-tiers", users.list_tiers, STAFF),
    Route("PUT", "/sla-tiers/{name}", users.put_tier, ADMIN),
    Route("GET", "/organisations", users.list_organisations, ADMIN),
    Route("PUT", "/organisations/{name}", users.put_organisation, ADMIN),
    Route("GET", "/organisations/{name}/policy", summary.get_org_policy, ADMIN),
    Route("PUT", "/organisations/{name}/policy", summary.put_org_policy, ADMIN),
    # workflow (issue 19): SLA clocks, escalation chains, closure (docs/workflow.md)
    Route("GET", "/tickets/{ticket_id}/sla", sla.get_ticket_sla, STAFF | INTEGRATION),
    Route("PUT", "/tickets/{ticket_id}/sla", sla.put_ticket_sla, ENGINEERS | INTEGRATION),
    Route("GET", "/sla/escalations", sla.list_escalations, ENGINEERS),
    Route(
        "POST",
        "/sla/escalations/{escalation_id}/acknowledge",
        sla.acknowledge_escalation,
        ENGINEERS,
    ),
    Route("GET", "/agent/ticket", sla.agent_ticket, PUBLIC),  # the agent's session token
    Route("POST", "/agent/closure", sla.agent_closure, PUBLIC),  # the agent's session token
    Route("GET", "/sla/calendars", sla_admin.list_calendars, STAFF),
    Route("PUT", "/sla/calendars/{name}", sla_admin.put_calendar, ADMIN),
    Route("DELETE", "/sla/calendars/{name}", sla_admin.delete_calendar, ADMIN),
    Route("GET", "/sla/contracts", sla_admin.list_contracts, STAFF),
    Route("PUT", "/sla/contracts/{tier}", sla_admin.put_contract, ADMIN),
    Route("GET", "/sla/closure", sla_admin.list_closures, ADMIN),
    Route("PUT", "/sla/closure/{organisation}", sla_admin.put_closure, ADMIN),
    Route("GET", "/sla/addresses", sla_admin.list_addresses, ADMIN),
    Route("PUT", "/sla/addresses/{user_id}", sla_admin.put_address, ADMIN),
    # integration (issue 18): API keys of integration accounts, managed by admins
    Route("GET", "/api-keys", api_keys.list_keys, ADMIN),
    Route("POST", "/api-keys", api_keys.create_key, ADMIN),
    Route("DELETE", "/api-keys/{key_id}", api_keys.revoke_key, ADMIN),
    # certs-admin: the CA (broker/api/admin_certs.py)
    Route("GET", "/crl", admin_certs.crl, PUBLIC),
    Route("GET", "/trust-bundle", admin_certs.trust_bundle, PUBLIC),
    Route("GET", "/admin/certs", admin_certs.list_certs, ADMIN),
    Route("POST", "/admin/certs", admin_certs.issue_cert, ADMIN),
    Route("POST", "/admin/certs/{serial}/revoke", admin_certs.revoke_cert, ADMIN),
)


def setup_routes(app: web.Application) -> None:
    """Register every route of :data:`ROUTES`, each behind its role guard."""
    for route in ROUTES:
        app.router.add_route(
            route.method, API_PREFIX + route.path, guard(route.handler, route.roles)
        )
