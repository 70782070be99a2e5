"""Protocol limits (SPEC §2).

Every limit is a named constant; the parsers in :mod:`protocol.messages` and
:mod:`protocol.media` enforce them and turn a violation into a
:class:`protocol.errors.ProtocolError`, never a crash.
"""

from typing import Final

MAX_TEXT_MESSAGE: Final = 64 * 1024
"""One JSON control message, encoded (bytes of UTF-8)."""
MAX_BINARY_MESSAGE: Final = 8 * 1024 * 1024
"""One binary frame, bytes."""
MAX_HELLO_MESSAGE: Final = 8 * 1024
"""Any frame before ``hello`` on the broker's side, bytes (a hello is a token and a
client name, well under 2 KiB): an unauthenticated peer gets no 64 KiB parse."""
MAX_CHAT_CHARS: Final = 4_000
"""Chat text, characters."""
MAX_RECTS: Final = 4_096
"""Rectangles in one screen update."""
MAX_TILES: Final = MAX_RECTS
"""Alias of :data:`MAX_RECTS` (SPEC §2 names both)."""
MAX_IMAGES: Final = 64
"""Images in one screen update."""
MAX_SCREEN_DIM: Final = 8_192
"""Screen width or height, pixels."""
MAX_FRAME_AREA: Final = 8_192 * 8_192
"""Sum of rectangle areas in one screen update, pixels."""
MAX_INPUT_EVENTS: Final = 256
"""Events in one input batch."""
MAX_MASK_REGIONS: Final = 64
"""Masked rectangles (and masked windows, SPEC §3.5 ``mask.update``)."""
MAX_SDP_CHARS: Final = 32_000
"""WebRTC SDP, characters."""
HANDSHAKE_TIMEOUT_S: Final = 10
"""Seconds until the ``hello`` must have arrived."""
HEARTBEAT_INTERVAL_S: Final = 4
"""The agent pings the broker this often (seconds); the broker pings after this much
silence plus one (SPEC §1: a dead link is noticed within ``DEAD_LINK_S``, P10)."""
HEARTBEAT_TIMEOUT_S: Final = 5
"""A ping unanswered this long (seconds) means the link is dead: close and reconnect."""
DEAD_LINK_S: Final = 10
"""Both ends notice a half-open link (packets stop, nothing closes) within this (P10)."""
CONSENT_TIMEOUT_S: Final = 60
"""A consent prompt left unanswered this long is a deny."""
MAX_CONTROL_RATE: Final = 50
"""Control messages per second per connection (token bucket refill rate)."""
CONTROL_BURST: Final = 100
"""Token bucket size for :data:`MAX_CONTROL_RATE`."""
MAX_INFLIGHT_UPDATES: Final = 2
"""Unacknowledged screen updates per viewer (SPEC §6)."""

# Field-level limits of SPEC §3 (not in the §2 table but enforced by the parser).
MAX_IDENTIFIER_CHARS: Final = 64
"""Identifiers: at most 64 chars of ``[A-Za-z0-9_.:-]``."""
MAX_NOTE_CHARS: Final = 200
"""``permission.request`` note."""
MAX_COMMENT_CHARS: Final = 1_000
"""``rating`` comment."""
MAX_RESOLUTION_CHARS: Final = 4_000
"""``end`` resolution."""
MAX_SHORT_TEXT_CHARS: Final = 256
"""Other short strings: names, titles, reasons, client, token, error message."""
MAX_TOKEN_CHARS: Final = 4_096
"""``hello`` token (a JWT)."""
MAX_CANDIDATE_CHARS: Final = 1_024
"""``rtc.candidate`` candidate line."""
MAX_PEM_CHARS: Final = 16_000
"""``audit.recipient`` certificate PEM."""
MAX_VIEWERS: Final = 64
"""Viewers listed in one ``session.state``."""
MAX_U32: Final = 0xFFFF_FFFF
MAX_U64: Final = 0xFFFF_FFFF_FFFF_FFFF
VIDEO_KEYFRAME_INTERVAL_S: Final = 30
"""Longest time between video keyframes (SPEC §4.4): recordings' seek points."""

#: Monitors listed in one ``desktop.info`` (SPEC §3.5); ``monitor`` indexes are 0..this.
MAX_MONITORS: Final = 16
#: Largest desktop coordinate (X11 and Windows virtual screens stay far below).
MAX_DESKTOP_COORD: Final = 65_535
