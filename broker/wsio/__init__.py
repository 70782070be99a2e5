"""The I/O pieces under ``broker.ws``: one peer's sender, admitting a connection,
and writing the relay's store actions. ``broker.ws`` composes them around a
:class:`protocol.Connection` per socket."""

from broker.wsio.sender import CLOSE_TIMEOUT_S, MAX_QUEUED_BYTES, MAX_QUEUED_FRAMES, WsEndpoint

__all__ = ["CLOSE_TIMEOUT_S", "MAX_QUEUED_BYTES", "MAX_QUEUED_FRAMES", "WsEndpoint"]
