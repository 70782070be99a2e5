"""Clearpane wire protocol core (Sans-I/O).

Owns the message types, their text and binary codecs, the limits, the session
state machine and the end-to-end crypto. It imports no asyncio, no sockets, no
ssl: callers feed it bytes and time and get events and bytes back. The contract
is ``protocol/SPEC.md``.
"""

__all__: list[str] = []
