"""The agent's call settings (docs/video-calls.md), validated at start-up.

Its variables (``CLEARPANE_ICE_SERVERS``, ``CLEARPANE_CALL_VIDEO``,
``CLEARPANE_CALL_AUDIO``) are declared with the agent's others in
``agent.config.ENVIRONMENT`` (documented in docs/configuration.md).

Nothing is opened here: the specs are only parsed, the devices are opened when the
client starts a call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.call.ice import IceServer, parse_ice_servers
from agent.call.media import (
    MediaFactory,
    has_devices,
    media_factory,
    parse_audio_spec,
    parse_video_spec,
)
from agent.call.peer import FrameListener
from agent.call.runner import CallRunner, LogFn, SendFn


@dataclass(frozen=True, slots=True)
class CallConfig:
    """Validated call settings."""

    ice_servers: tuple[IceServer, ...] = ()
    video: str = "auto"
    audio: str = "auto"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> CallConfig:
        """Read ``CLEARPANE_ICE_SERVERS``, ``CLEARPANE_CALL_VIDEO``, ``CLEARPANE_CALL_AUDIO``
        (``overrides`` win); raises ``IceConfigError`` / ``MediaError`` when invalid."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "ice_servers": parse_ice_servers(env.get("CLEARPANE_ICE_SERVERS", "")),
            "video": env.get("CLEARPANE_CALL_VIDEO", "auto"),
            "audio": env.get("CLEARPANE_CALL_AUDIO", "auto"),
        }
        values.update(overrides)
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Validate the media specs (raises ``MediaError``)."""
        self.media_factory()

    def devices(self) -> tuple[bool, bool]:
        """``(camera, microphone)``: what a call can send from here (nothing opened).
        The agent tells the engineer (``desktop.info``) and the client; a missing one
        makes the call receive-only for that kind (agent/call/peer.py)."""
        return has_devices(parse_video_spec(self.video), parse_audio_spec(self.audio))

    def media_factory(self) -> MediaFactory:
        """A factory that opens the configured camera and microphone when called."""
        return media_factory(self.video, self.audio)

    def make_runner(
        self,
        send: SendFn,
        log_event: LogFn,
        *,
        on_ring: Callable[[bool], None] | None = None,
        on_change: Callable[[], None] | None = None,
        on_video_frame: FrameListener | None = None,
    ) -> CallRunner:
        """The session's :class:`CallRunner` with these settings."""
        return CallRunner(
            send,
            log_event,
            self.media_factory(),
            ice_servers=self.ice_servers,
            on_ring=on_ring,
            on_change=on_change,
            on_video_frame=on_video_frame,
        )
