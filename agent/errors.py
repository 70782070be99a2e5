"""The agent's root exception and its subclasses."""

from __future__ import annotations


class AgentError(Exception):
    """Root of every error the agent raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConsentError(AgentError):
    """A consent operation that the state machine does not allow."""


class SessionKilled(AgentError):
    """The kill switch was pressed: the session is over and cannot be resumed."""


class ConfigError(AgentError):
    """The agent's configuration is incomplete or inconsistent."""


class FinalError(AgentError):
    """An error after which the agent must not reconnect (auth failure, session ended)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.message} ({self.reason})"
