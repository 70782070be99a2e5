"""Help-desk workflow: SLA escalation and its scheduler, e-mail, routing and presence,
the default tier (docs/workflow.md)."""

from __future__ import annotations

from dataclasses import dataclass

from broker.config_fields.declare import parse_bool, setting

__all__ = ["WorkflowFields"]


@dataclass(frozen=True)
class WorkflowFields:
    """One group of :class:`broker.config_fields.ConfigFields` (docs/configuration.md)."""

    __slots__ = ()  # the slots are ConfigFields' own: a group is never built alone

    sla_escalation_fraction: float = setting(
        0.8,
        float,
        "A waiting request escalates to supervisors once this fraction of the time between its creation and its SLA deadline has passed (premium, 5 min → after 4 min). In (0, 1].",
        shown="`0.8`",
    )
    escalation_interval_s: float = setting(
        5.0,
        float,
        "How often the SLA scheduler looks at the queue and the clocks of open tickets (at risk, breach, escalation levels, auto-close).",
        shown="`5`",
    )
    smtp_host: str = setting(
        "",
        str,
        "SMTP server for e-mail (escalations to staff, progress and closure to clients, docs/workflow.md). Empty: no e-mail is sent or queued.",
        shown="empty (off)",
    )
    smtp_port: int = setting(25, int, "Port of the SMTP server.", shown="`25`")
    smtp_from: str = setting(
        "clearpane@localhost",
        str,
        "The From address of the broker's e-mail.",
        shown="`clearpane@localhost`",
    )
    smtp_starttls: bool = setting(
        False,
        parse_bool,
        "Upgrade the SMTP connection with STARTTLS before sending.",
        shown="`false`",
    )
    mail_interval_s: float = setting(
        10.0, float, "How often the mail worker looks for messages to send or retry.", shown="`10`"
    )
    routing_capacity: int = setting(
        2,
        int,
        "Routing (issue 19): how many sessions an engineer carries at once (live ones plus waiting requests routed to them). An available engineer with this many live sessions is shown busy, and routing gives work only to engineers below it.",
        shown="`2`",
    )
    presence_lease_s: float = setting(
        120.0,
        float,
        "Routing (issue 19): an available engineer whose viewer has not renewed their presence for this long (a closed browser) counts as away, unless a live session shows they are there.",
        shown="`120`",
    )
    routing_interval_s: float = setting(
        5.0,
        float,
        "How often the routing task assigns waiting requests (it also runs at once on a new request and when an engineer becomes available).",
        shown="`5`",
    )
    default_tier: str = setting(
        "standard",
        str,
        "SLA tier for tickets and requests that name none. Seeded tiers: `premium` (5 min), `standard` (30 min), `basic` (4 h).",
        shown="`standard`",
    )
