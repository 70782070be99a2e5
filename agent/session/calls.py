"""Video-call glue (``agent.call``): client actions, signalling and ringing.

Call signalling reaches the ``CallRunner`` only while some viewer holds ``video``
and the session is not killed; losing ``video`` hangs the call up.
"""

from __future__ import annotations

import contextlib

from agent.observer import CallView
from agent.session.keys import KeysMixin
from protocol.messages import CallRequest, ControlMessage


class CallsMixin(KeysMixin):
    """Glue between the session and ``agent.call``: only while ``video`` is held."""

    def _call_action(self, name: str, **kwargs: bool) -> None:
        def act() -> None:
            runner = self._call
            if runner is None:
                self.observer.notice("Video calls are not available.")
                return
            if name in ("client_start", "client_accept") and not self.consent.viewers_with("video"):
                self.observer.notice("Nobody has your permission for a video call.")
                return
            try:
                getattr(runner, name)(**kwargs)
            except Exception as exc:  # CallError: not allowed in this state
                self.observer.notice(f"Video call: {exc}")

        self._call_soon(act)

    def _on_call_message(self, msg: ControlMessage) -> None:
        """Call signalling goes to the call runner only while someone holds ``video``
        (the consent machine is the authority; the broker checks it too)."""
        if self._call is None:
            if isinstance(msg, CallRequest):
                self.observer.notice("The engineer asks for a video call (not available here).")
            return
        if not self.consent.viewers_with("video") or self.killswitch.killed:
            return
        self._call.handle(msg)

    def _end_call_without_video(self) -> None:
        if self._call is not None and not self.consent.viewers_with("video"):
            with contextlib.suppress(Exception):
                if self._call.state not in ("idle", "ended"):
                    self._call.client_hangup("video_revoked")

    def _on_ring(self, on: bool) -> None:
        if on:
            viewers = self.consent.viewers_with("video")
            viewer_id = viewers[0] if viewers else ""
            self.observer.call_requested(viewer_id, self._name(viewer_id))

    def _call_view(self) -> CallView:
        """The call panel's snapshot. Safe from any thread: only references are read
        (each frame object is replaced, never changed, by the loop thread)."""
        runner = self._call
        if runner is None:
            return CallView()
        controller, peer, media = runner.controller, runner.peer, runner.media
        state = controller.state
        if state in ("idle", "ended", "ringing"):
            return CallView(state)
        video = media.video if media is not None else None
        return CallView(
            state,
            remote_frame=peer.last_video_frame if peer is not None else None,
            local_frame=video.last_frame if video is not None else None,
            audio_muted=controller.audio_muted,
            video_muted=controller.video_muted,
            remote_audio_muted=controller.remote_audio_muted,
            remote_video_muted=controller.remote_video_muted,
        )
