"""One help session, from request to rating (DESIGN §4, SPEC §3–§8).

``AgentSession.run()`` runs on its own asyncio loop (the Qt window starts it in a
background thread; headless mode runs it in the main thread). The UI talks to it
through its thread-safe methods and hears from it through a ``SessionObserver``.
The pure state machines — ``ConsentMachine`` (who may do what) and ``KillSwitch``
(kill, pause) — are owned by the session and consulted at every step; whatever the
broker says, nothing is sent or applied that they refuse:

- no screen byte before a viewer holds ``view`` and has the content key, none
  while paused, none after kill (G2, G5, G6); the capture source is opened only
  after the first ``view`` grant and closed on kill;
- input is applied only while the sending viewer holds ``control`` (G4,
  ``agent.input``);
- a kill stops capture in the caller's thread, then sends ``kill`` and closes the
  socket with short timeouts (G5);
- a viewer leaving or losing ``view`` starts a new content-key epoch (SPEC §8.2);
- the audit recipient's certificate is checked against the organisation CA
  before a content key is wrapped for it.

``AgentSession`` owns its parts (no mixins); each holds the shared
``SessionCore`` and the parts it calls, and can be built and tested alone:

- ``core``     — ``SessionCore``: shared state, ``send``, the local log, names, status;
- ``keys``     — ``KeyExchange``: per-viewer key agreement, content-key wraps, epochs, audit;
- ``calls``    — ``CallGlue``: video-call glue (``agent.call``), only while ``video`` is held;
- ``consent_flow`` — ``ConsentFlow``: prompts, answers, timeouts, revocations, viewers leaving;
- ``stream``   — ``Stream``: the capture/send loop with ack-based flow control, pause, masks;
- ``dispatch`` — ``Reader``: reading the socket (``protocol.Connection``), routing messages;
- ``connect``  — ``Connector``: REST request/redeem, WebSocket with reconnects, kill and end;
- ``rating``   — ``Rating``: the client's rating, over the socket or over REST;
- ``api``      — ``AgentSession``: the thread-safe API and ``run()``;
- ``verify``   — checking the local log against the signed checkpoint at the end.
"""

from agent.errors import SessionKilled
from agent.session.api import AgentSession, load_call_config, permissions_arg
from agent.session.core import (
    CALL_MESSAGE_TYPES,
    FLAG_FULL,
    INFLIGHT_EXPIRY_S,
    PipelineFactory,
    SourceFactory,
)

__all__ = [
    "CALL_MESSAGE_TYPES",
    "FLAG_FULL",
    "INFLIGHT_EXPIRY_S",
    "AgentSession",
    "PipelineFactory",
    "SessionKilled",
    "SourceFactory",
    "load_call_config",
    "permissions_arg",
]
