"""The relay: who is in a session, what they may do, and what flows where.

README. The relay core is plain state, testable without sockets (STYLE
"broker/"): it imports no asyncio and never reads a clock.

* :mod:`broker.relay.flow` — per-viewer credit, "latest frame wins" (SPEC §6).
* :mod:`broker.relay.consent` — open consent prompts and granted permissions.
* :mod:`broker.relay.session` — :class:`SessionRelay`, one session: state
  machine, viewers, connections; composed of parts it owns (no mixins), each over
  the shared :class:`broker.relay.base.SessionContext` (state, log-then-act
  primitives) and testable alone: :mod:`broker.relay.messages` (control-message
  routing), :mod:`broker.relay.consenting` (asking, granting, timing out,
  revoking), :mod:`broker.relay.fanout` (screen updates, acks),
  :mod:`broker.relay.input` (the input gate and its counts) and
  :mod:`broker.relay.lifecycle` (timers, end, seal, fail-closed abort).
* :mod:`broker.relay.core` — :class:`RelayCore`, the registry of sessions, the
  fail-closed abort when a session log cannot be written, and the memory of
  ended sessions (a killed session is never reopened, G5).
* :mod:`broker.relay.actions` — the core's outputs (:data:`Action`: send text or
  binary to an endpoint, close it, persist state) and the :class:`EventLog` it writes.
* :mod:`broker.relay.backend` — **the seam** (DESIGN §8): :class:`RelayBackend`,
  the async interface the WebSocket layer talks to, and :class:`InProcessRelay`,
  the default that runs the core in this process. A NATS/Redis backend runs each
  session's core on the node holding its agent and carries actions for endpoints
  on other nodes over a per-session subject; ``broker.ws`` does not change.
* :mod:`broker.relay.testing` — fakes: :class:`MemoryLog`, :class:`Harness`.
"""

from broker.relay.actions import AGENT, Action, EventLog, LogFailure
from broker.relay.backend import Endpoint, InProcessRelay, RelayBackend
from broker.relay.core import RelayCore
from broker.relay.session import RelayTimings, SessionInfo, SessionRelay, ViewerUser

__all__ = [
    "AGENT",
    "Action",
    "Endpoint",
    "EventLog",
    "InProcessRelay",
    "LogFailure",
    "RelayBackend",
    "RelayCore",
    "RelayTimings",
    "SessionInfo",
    "SessionRelay",
    "ViewerUser",
]
