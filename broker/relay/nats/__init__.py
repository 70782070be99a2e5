"""The NATS relay backend (DESIGN §8): one session served by several broker processes.

* :mod:`broker.relay.nats.wire` — subjects and frames (pure).
* :mod:`broker.relay.nats.remote` — the ordered publisher, the home's endpoint for a
  WebSocket held elsewhere, and the other side's attachment.
* :mod:`broker.relay.nats.links` — heartbeats, node failure, fencing (NATS lost).
* :mod:`broker.relay.nats.backend` — :class:`NatsRelay`, the
  :class:`~broker.relay.backend.InProcessRelay` of each session's home plus the
  routing to and from other processes, heartbeats and node failure.
"""

from broker.relay.nats.backend import NatsRelay
from broker.relay.nats.links import FENCE_S, HOME_TIMEOUT_S, LINK_LOST, NODE_FAILED, RETRY_CLOSE

__all__ = ["FENCE_S", "HOME_TIMEOUT_S", "LINK_LOST", "NODE_FAILED", "RETRY_CLOSE", "NatsRelay"]
