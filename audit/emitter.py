"""Small composable emitters (Teleport's ``events.Emitter`` shape).

An :class:`Emitter` turns ``(event, actor, detail, at_ms)`` into a durable
:class:`~audit.chain.Record`. Wrappers add one concern each:

* :class:`JsonlEmitter` / :class:`ChainEmitter` — the sink (a file, or memory);
* :class:`CheckingEmitter` — only known events, only from an allowed source;
* :class:`FanoutEmitter` — after the record is durable, hand it to listeners
  (e.g. send ``log.event`` to the agent and viewers).

Fail closed: each wrapper checks or writes *before* passing on, and raises instead of
swallowing, so an action whose event could not be recorded does not proceed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from audit.chain import AuditChain, Record
from audit.errors import EventError
from audit.events import Source, check_event_name, lookup
from audit.jsonl import JsonlChainWriter

__all__ = ["ChainEmitter", "CheckingEmitter", "Emitter", "FanoutEmitter", "JsonlEmitter"]


class Emitter(Protocol):
    """Anything that records an event and returns the record."""

    def emit(self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int) -> Record:
        """Record one event durably (raise if it could not be recorded)."""
        ...


class ChainEmitter:
    """Emit into an in-memory :class:`AuditChain` (tests, the agent's live view)."""

    def __init__(self, chain: AuditChain) -> None:
        self.chain = chain

    def emit(self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int) -> Record:
        """Append to the chain."""
        return self.chain.append(event, actor, detail, at_ms)


class JsonlEmitter:
    """Emit into a fsync'd JSONL file."""

    def __init__(self, writer: JsonlChainWriter) -> None:
        self.writer = writer

    def emit(self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int) -> Record:
        """Write the record (durable when this returns)."""
        return self.writer.append_event(event, actor, detail, at_ms)


class CheckingEmitter:
    """Refuse unknown events and events ``source`` may not originate."""

    def __init__(self, inner: Emitter, source: Source) -> None:
        self.inner = inner
        self.source = source

    def emit(self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int) -> Record:
        """Check the event against the table, then pass it on."""
        check_event_name(event)
        known = lookup(event)
        if known is None:
            raise EventError(event, "unknown event")
        if not known.sources & self.source:
            raise EventError(event, f"not allowed from {self.source.name}")
        return self.inner.emit(event, actor, detail, at_ms)


class FanoutEmitter:
    """Record through ``inner``, then give the durable record to each listener."""

    def __init__(self, inner: Emitter, *listeners: Callable[[Record], None]) -> None:
        self.inner = inner
        self.listeners = list(listeners)

    def emit(self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int) -> Record:
        """Write first; listeners see only records that are already durable."""
        record = self.inner.emit(event, actor, detail, at_ms)
        for listener in self.listeners:
            listener(record)
        return record
