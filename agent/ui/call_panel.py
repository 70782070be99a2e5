"""The call panel: the engineer's camera, the client's own preview, mute and hang up.

The panel holds no call logic. A timer polls the controller's ``call_view()`` (a
snapshot of references, cheap from any thread) at most ``MAX_FPS`` times a second
and converts a frame only when a new one arrived (latest wins): a fast camera
never queues work in the GUI thread. The buttons call the session's thread-safe
``call_mute`` and ``call_hangup``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from agent.i18n import _
from agent.observer import AgentController, CallView

#: Upper bound on redraws per second (each redraw converts at most two frames).
MAX_FPS = 15
REMOTE_SIZE = (320, 240)
PREVIEW_SIZE = (160, 120)
_VIDEO_STYLE = "background: #111; color: #bbb;"


def frame_to_qimage(frame: Any, box: tuple[int, int]) -> QImage:
    """An ``av.VideoFrame`` scaled to fit ``box`` (aspect kept) as an RGB ``QImage``.

    The scaling and YUV→RGB conversion happen in one libswscale pass (PyAV's
    ``reformat``), on the small target size, so a 720p camera costs little.
    """
    width, height = int(frame.width), int(frame.height)
    scale = min(box[0] / width, box[1] / height, 1.0)
    w, h = max(2, int(width * scale) & ~1), max(2, int(height * scale) & ~1)
    rgb = frame.to_ndarray(format="rgb24", width=w, height=h)
    image = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels: ``rgb`` is freed when this returns


class VideoView(QLabel):
    """Shows the latest frame handed to :meth:`show_frame`; counts what it drew."""

    def __init__(self, name: str, box: tuple[int, int], placeholder: str) -> None:
        super().__init__(placeholder)
        self.setObjectName(name)
        self.box = box
        self.placeholder = placeholder
        self.setFixedSize(*box)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet(_VIDEO_STYLE)
        self.frames_shown = 0
        self._last: Any = None

    def show_frame(self, frame: Any, text: str = "") -> None:
        """Draw ``frame`` if it is new; no frame shows ``text`` (or the placeholder)."""
        if frame is None:
            if self._last is not None or self.text() != (text or self.placeholder):
                self._last = None
                self.clear()
                self.setText(text or self.placeholder)
            return
        if frame is self._last:
            return
        self._last = frame
        self.setPixmap(QPixmap.fromImage(frame_to_qimage(frame, self.box)))
        self.frames_shown += 1


class CallPanel(QFrame):
    """Remote video, local preview and the call buttons; hidden while no call runs.

    ``controller`` returns the current ``AgentController`` (None before the session
    starts); ``on_call_over`` runs when a call ends (either side hung up, or the
    kill switch), so the window can reset its own call button.
    """

    def __init__(
        self,
        controller: Callable[[], AgentController | None],
        on_call_over: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("callPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._controller = controller
        self._on_call_over = on_call_over
        self._in_call = False
        self.view = CallView()
        layout = QHBoxLayout(self)
        self.remote = VideoView("remoteVideo", REMOTE_SIZE, _("Waiting for the engineer's camera…"))
        layout.addWidget(self.remote)
        side = QVBoxLayout()
        self.state_label = QLabel()
        self.state_label.setObjectName("callState")
        self.state_label.setWordWrap(True)
        side.addWidget(self.state_label)
        side.addWidget(QLabel(_("You send:")))
        self.preview = VideoView("localPreview", PREVIEW_SIZE, _("Camera starting…"))
        side.addWidget(self.preview)
        self.mute_audio = QPushButton(_("Mute microphone"))
        self.mute_audio.setObjectName("muteAudio")
        self.mute_audio.setAccessibleDescription(
            _("The engineer stops hearing you until you press it again.")
        )
        self.mute_audio.setCheckable(True)
        self.mute_audio.toggled.connect(self._on_mute)
        self.mute_video = QPushButton(_("Turn camera off"))
        self.mute_video.setObjectName("muteVideo")
        self.mute_video.setAccessibleDescription(
            _("The engineer stops seeing you until you press it again.")
        )
        self.mute_video.setCheckable(True)
        self.mute_video.toggled.connect(self._on_mute)
        self.hangup = QPushButton(_("Hang up"))
        self.hangup.setObjectName("callHangup")
        self.hangup.setAccessibleDescription(_("Ends the video call; the session goes on."))
        self.hangup.clicked.connect(self._on_hangup_clicked)
        side.addWidget(self.mute_audio)
        side.addWidget(self.mute_video)
        side.addWidget(self.hangup)
        side.addStretch(1)
        layout.addLayout(side)
        layout.addStretch(1)
        self.setVisible(False)
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // MAX_FPS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def refresh(self) -> None:
        """Poll the session and redraw (the timer calls this ≤ ``MAX_FPS`` times/s)."""
        controller = self._controller()
        view = controller.call_view() if controller is not None else CallView()
        self.view = view
        in_call = view.state in ("starting", "active")
        if self.isHidden() == in_call:
            self.setVisible(in_call)
        was_in_call, self._in_call = self._in_call, in_call
        if not in_call:
            if was_in_call and self._on_call_over is not None:
                self._on_call_over()
            return
        remote_text = _("The engineer turned the camera off.") if view.remote_video_muted else ""
        self.remote.show_frame(None if view.remote_video_muted else view.remote_frame, remote_text)
        self.preview.show_frame(view.local_frame)
        state = _("Connecting the call…") if view.state == "starting" else _("In a video call")
        if view.remote_audio_muted:
            state += " — " + _("the engineer muted the microphone")
        self.state_label.setText(state)
        self._sync_button(
            self.mute_audio, view.audio_muted, _("Unmute microphone"), _("Mute microphone")
        )
        self._sync_button(
            self.mute_video, view.video_muted, _("Turn camera on"), _("Turn camera off")
        )

    def _sync_button(self, button: QPushButton, on: bool, on_text: str, off_text: str) -> None:
        button.blockSignals(True)  # a state change from the session is not a click
        button.setChecked(on)
        button.blockSignals(False)
        button.setText(on_text if on else off_text)

    def _on_mute(self) -> None:
        controller = self._controller()
        if controller is not None:
            controller.call_mute(
                audio=self.mute_audio.isChecked(), video=self.mute_video.isChecked()
            )

    def _on_hangup_clicked(self) -> None:
        controller = self._controller()
        if controller is not None:
            controller.call_hangup()


__all__ = ["MAX_FPS", "CallPanel", "VideoView", "frame_to_qimage"]
