"""Video-call glue (``agent.call``): client actions, signalling and ringing.

Call signalling reaches the ``CallRunner`` only while some viewer holds ``video``
and the session is not killed; losing ``video`` hangs the call up.
"""

from __future__ import annotations

import contextlib

from agent.i18n import _
from agent.observer import CallView
from agent.session.core import SessionCore
from protocol.messages import CallRequest, ControlMessage


class CallGlue:
    """The session's calls part: glue to ``agent.call``, only while ``video`` is held."""

    def __init__(self, core: SessionCore) -> None:
        self._core = core

    def action(self, name: str, **kwargs: bool) -> None:
        """Run call action ``name`` on the loop (refused without ``video``)."""

        def act() -> None:
            runner = self._core.call
            if runner is None:
                self._core.observer.notice(_("Video calls are not available on this computer."))
                return
            if name in ("client_start", "client_accept") and not self._core.consent.viewers_with(
                "video"
            ):
                self._core.observer.notice(_("Nobody has your permission for a video call."))
                return
            try:
                getattr(runner, name)(**kwargs)
            except Exception as exc:  # CallError: not allowed in this state
                self._core.observer.notice(_("Video call: {reason}", reason=exc))
                return
            if name in ("client_start", "client_accept"):
                self._tell_missing_devices()

        self._core.call_soon(act)

    def _tell_missing_devices(self) -> None:
        """A call without a camera or microphone still works, one way: say so."""
        devices = self._core.desktop.devices
        if devices is None:
            return
        camera, microphone = devices
        if not camera and not microphone:
            text = _(
                "No camera or microphone found: you see and hear the engineer, "
                "they do not see or hear you (use the chat)."
            )
        elif not camera:
            text = _("No camera found: the engineer hears you but does not see you.")
        elif not microphone:
            text = _("No microphone found: the engineer sees you but does not hear you.")
        else:
            return
        self._core.observer.notice(text)

    def on_message(self, msg: ControlMessage) -> None:
        """Call signalling goes to the call runner only while someone holds ``video``
        (the consent machine is the authority; the broker checks it too)."""
        if self._core.call is None:
            if isinstance(msg, CallRequest):
                self._core.observer.notice(
                    _(
                        "The engineer asks for a video call, but calls are not available "
                        "on this computer."
                    )
                )
            return
        if not self._core.consent.viewers_with("video") or self._core.killswitch.killed:
            return
        self._core.call.handle(msg)

    def end_without_video(self) -> None:
        """Hang up once nobody holds ``video`` any more."""
        if self._core.call is not None and not self._core.consent.viewers_with("video"):
            with contextlib.suppress(Exception):
                if self._core.call.state not in ("idle", "ended"):
                    self._core.call.client_hangup("video_revoked")

    def on_ring(self, on: bool) -> None:
        """The engineer asks for a call: show it to the client."""
        if on:
            viewers = self._core.consent.viewers_with("video")
            viewer_id = viewers[0] if viewers else ""
            self._core.observer.call_requested(viewer_id, self._core.name_of(viewer_id))

    def view(self) -> CallView:
        """The call panel's snapshot. Safe from any thread: only references are read
        (each frame object is replaced, never changed, by the loop thread)."""
        runner = self._core.call
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
