"""Face-to-face video calls between the client's agent and the engineer's browser.

Owns the call's pure state machine (:mod:`agent.call.controller`: the camera and
microphone open only on the client's action, kill ends the call), local media
(:mod:`agent.call.media`: PyAV camera/microphone or synthetic sources), the aiortc
peer connection (:mod:`agent.call.peer`), STUN/TURN configuration
(:mod:`agent.call.ice`), settings (:mod:`agent.call.config`) and the runner that ties them to the session's loop
(:mod:`agent.call.runner`). Signalling is SPEC §3.6, over the session's control channel.
"""

from agent.call.config import CallConfig
from agent.call.controller import CALL_MESSAGE_TYPES, CallController, CallError, CallState
from agent.call.ice import IceConfigError, IceServer, parse_ice_servers, turn_rest_credentials
from agent.call.media import (
    LocalMedia,
    MediaError,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
    media_factory,
    open_media,
    parse_audio_spec,
    parse_video_spec,
)
from agent.call.peer import CallPeer, ReceiveStats
from agent.call.runner import CallRunner

__all__ = [
    "CALL_MESSAGE_TYPES",
    "CallConfig",
    "CallController",
    "CallError",
    "CallPeer",
    "CallRunner",
    "CallState",
    "IceConfigError",
    "IceServer",
    "LocalMedia",
    "MediaError",
    "ReceiveStats",
    "SyntheticAudioTrack",
    "SyntheticVideoTrack",
    "media_factory",
    "open_media",
    "parse_audio_spec",
    "parse_ice_servers",
    "parse_video_spec",
    "turn_rest_credentials",
]
