"""The NATS relay backend (DESIGN §8): one session served by several broker processes.

* :mod:`broker.relay.nats.wire` — subjects and frames (pure).
* :mod:`broker.relay.nats.remote` — the ordered publisher, the home's endpoint for a
  WebSocket held elsewhere, and the other side's attachment.
* :mod:`broker.relay.nats.backend` — :class:`NatsRelay`, the
  :class:`~broker.relay.backend.InProcessRelay` of each session's home plus the
  routing to and from other processes, heartbeats and node failure.
"""

from broker.relay.nats.backend import HOME_TIMEOUT_S, NODE_FAILED, NatsRelay

__all__ = ["HOME_TIMEOUT_S", "NODE_FAILED", "NatsRelay"]
