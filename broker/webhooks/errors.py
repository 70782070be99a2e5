"""The webhooks package's exceptions (root: :class:`WebhookError`)."""

from __future__ import annotations

__all__ = ["DeliveryFailed", "SignatureError", "WebhookError"]


class WebhookError(Exception):
    """Root of the webhooks package's exceptions."""


class SignatureError(WebhookError):
    """A received webhook does not verify; ``reason`` says why (for the receiver's
    log, never for the sender)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"webhook signature rejected: {self.reason}"


class DeliveryFailed(WebhookError):
    """One delivery attempt failed: ``status`` is the HTTP status if the receiver
    answered, ``detail`` what went wrong."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status

    def __str__(self) -> str:
        return self.detail if self.status is None else f"HTTP {self.status}: {self.detail}"
