"""Outbound webhooks to the help desk (broker/webhooks, docs/webhooks.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from broker.config_fields.declare import parse_bool, setting

__all__ = ["IntegrationFields"]


@dataclass(frozen=True)
class IntegrationFields:
    """One group of :class:`broker.config_fields.ConfigFields` (docs/configuration.md)."""

    __slots__ = ()  # the slots are ConfigFields' own: a group is never built alone

    # Outbound webhooks (broker/webhooks, docs/webhooks.md).
    webhook_max_attempts: int = setting(
        12,
        int,
        "Attempts per webhook delivery before it is marked dead (docs/webhooks.md).",
        shown="`12`",
    )
    webhook_timeout_s: float = setting(
        10.0, float, "Time limit of one webhook request (connect, send, answer).", shown="`10`"
    )
    webhook_backoff_base_s: float = setting(
        10.0,
        float,
        "Wait after the first failed attempt; it doubles after each further failure, times a random factor in [0.5, 1).",
        shown="`10`",
    )
    webhook_backoff_max_s: float = setting(
        3600.0, float, "Longest wait between two attempts.", shown="`3600`"
    )
    webhook_poll_interval_s: float = setting(
        5.0,
        float,
        "How often the delivery worker looks for due retries (new events wake it at once).",
        shown="`5`",
    )
    webhook_ca_file: Path | None = setting(
        None,
        Path,
        "PEM bundle of the CAs trusted for `https://` webhook receivers (instead of the system's).",
        shown="system trust store",
    )
    webhook_allow_http_loopback: bool = setting(
        False,
        parse_bool,
        "Development only: also accept `http://127.0.0.1[:port]/…` webhook URLs. Otherwise only `https://`.",
        shown="off",
    )
