"""STUN/TURN servers for the agent's calls: the shared list (``protocol.ice``) plus
what only the agent needs — the aiortc objects, and the rule that a TURN server in the
agent's own configuration must carry credentials (nobody fills them in for it).
"""

from __future__ import annotations

from aiortc import RTCIceServer

from protocol.ice import IceConfigError, IceServer, turn_rest_credentials
from protocol.ice import parse_ice_servers as _parse

__all__ = [
    "IceConfigError",
    "IceServer",
    "parse_ice_servers",
    "to_aiortc",
    "turn_rest_credentials",
]


def parse_ice_servers(text: str) -> tuple[IceServer, ...]:
    """Parse ``CLEARPANE_ICE_SERVERS`` for the agent (TURN entries need credentials)."""
    return _parse(text, require_turn_credentials=True)


def to_aiortc(server: IceServer) -> RTCIceServer:
    """The aiortc configuration object of one server."""
    return RTCIceServer(
        urls=list(server.urls), username=server.username, credential=server.credential
    )
