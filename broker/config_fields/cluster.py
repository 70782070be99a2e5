"""Several broker processes or nodes serving one session (issue 15, DESIGN §8): the event
loop, the relay backend and this node's identity."""

from __future__ import annotations

from dataclasses import dataclass

from broker.config_fields.declare import setting

__all__ = ["ClusterFields"]


@dataclass(frozen=True)
class ClusterFields:
    """One group of :class:`broker.config_fields.ConfigFields` (docs/configuration.md)."""

    __slots__ = ()  # the slots are ConfigFields' own: a group is never built alone

    # cluster (issue 15, docs/operations.md §6): the event loop, and the relay backend
    # that lets several broker processes or nodes serve one session (DESIGN §8).
    event_loop: str = setting(
        "auto",
        str,
        "`auto` (uvloop when installed, else asyncio), `uvloop` or `asyncio`. uvloop cuts the broker's CPU per relayed frame (docs/BENCHMARKS.md).",
        shown="`auto`",
    )
    relay_backend: str = setting(
        "inprocess",
        str,
        "`inprocess` (one broker process holds each whole session) or `nats`: several broker processes or nodes serve one session, relay traffic between them over NATS (docs/operations.md §6). `nats` needs a shared PostgreSQL `CLEARPANE_DATABASE_URL`.",
        shown="`inprocess`",
    )
    nats_url: str = setting(
        "nats://127.0.0.1:4222",
        str,
        "The NATS server of the `nats` relay backend.",
        shown="`nats://127.0.0.1:4222`",
    )
    node_id: str | None = setting(
        None,
        str,
        "This broker process's name in the cluster (logs, which node holds a session).",
        shown="host name and process id",
    )
    node_url: str | None = setting(
        None,
        str,
        "This node's own address through the load balancer (`https://lb.example:9444`, a port or SNI name HAProxy maps to this node only: docs/operations.md §6). A viewer's join answers the `ws_url` of the node holding the session, so its frames stay in one process; unset: every viewer uses the public URL.",
        shown="—",
    )
