"""The window's call panel, offscreen, in a real call: the REAL broker, the real
AgentSession (with synthetic camera and microphone), and an aiortc engineer answering
through a scripted viewer. The panel shows the engineer's video and the client's own
preview; its mute and hang-up buttons drive the session's call methods."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QRadioButton

from agent.call.config import CallConfig
from agent.call.testing import AiortcEngineer, use_loopback_ice
from agent.capture import open_source
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import ScriptedViewer
from agent.ui.bridge import QtObserver, SessionThread
from agent.ui.call_panel import MAX_FPS, VideoView, frame_to_qimage
from agent.ui.qt_window import AgentWindow
from broker.pki import PKI
from broker.testing import RunningBroker, running_broker
from protocol.messages import PermissionRequest, RtcAnswer, RtcHangup, RtcMute, RtcOffer
from tests.helpers import eventually


@pytest.fixture(scope="module")
def app() -> QApplication:
    existing = QApplication.instance()
    return existing if isinstance(existing, QApplication) else QApplication([])


async def until(app: QApplication, cond: Callable[[], Any], what: str, timeout: float = 15) -> None:
    """Wait for ``cond`` while both the asyncio loop and Qt's event loop run."""
    await eventually(cond, timeout=timeout, what=what, tick=app.processEvents)
    app.processEvents()


def click(app: QApplication, button: QPushButton) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    app.processEvents()


def pixel_spread(view: VideoView) -> tuple[int, int]:
    """(min, max) grey level of the picture a view shows."""
    image = view.pixmap().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * h)
    pixels = data.reshape(h, image.bytesPerLine())[:, :w]
    return int(pixels.min()), int(pixels.max())


def test_frame_to_qimage_scales_to_fit_and_keeps_colour() -> None:
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[:, :320] = (255, 0, 0)  # left half red, right half black
    image = frame_to_qimage(av.VideoFrame.from_ndarray(rgb, format="rgb24"), (160, 160))
    assert (image.width(), image.height()) == (160, 120)  # aspect kept, fits the box
    left, right = image.pixelColor(20, 60), image.pixelColor(140, 60)
    assert left.red() > 200 and left.green() < 40 and right.red() < 40


def start_window(
    b: RunningBroker, tmp_path: Path
) -> tuple[AgentWindow, list[AgentSession], list[SessionThread]]:
    sessions: list[AgentSession] = []
    threads: list[SessionThread] = []
    config = AgentConfig(
        broker_url=b.base_url,
        ca_pem=b.ca_cert_path.read_text(),
        checkpoint_signer_pem=b.app[PKI].signing_cert_path.read_text(),
        client_name="Carol Client",
        source="pattern:320x240",
        log_dir=tmp_path / "client-logs",
    ).check()
    calls = CallConfig(video="synthetic:320x240@15", audio="synthetic")

    def start(describe: str | None, code: str | None, observer: QtObserver) -> AgentSession:
        cfg = replace(config, describe=describe).check()
        session = AgentSession(
            cfg,
            observer,
            source_factory=lambda: open_source("pattern:320x240"),
            call_config=calls,
        )
        thread = SessionThread(session.run)
        sessions.append(session)
        threads.append(thread)
        thread.start()
        return session

    w = AgentWindow(start)
    w.show()
    return w, sessions, threads


async def test_call_panel_shows_both_videos_mutes_and_hangs_up(
    app: QApplication, tmp_path: Path, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_loopback_ice(monkeypatch)
    engineer = AiortcEngineer(160, 120, 15)
    async with running_broker(tmp_path) as b:
        w, sessions, threads = start_window(b, tmp_path)
        viewer: ScriptedViewer | None = None
        try:
            w.describe_edit.setPlainText("My camera call")
            click(app, w.get_help)
            session = sessions[0]
            await until(app, lambda: session.connected, "the agent's connection")
            assert w.call_panel.isHidden()  # no call, no panel
            await b.create_user("alice", "engineer", name="Alice Engineer", password="pw-alice1")
            token = await b.login("alice", "pw-alice1")
            status, body, _ = await b.request(
                "POST", f"/api/v1/sessions/{session.session_id}/join", token=token,
                json={"as": "engineer", "permissions": ["view", "video"]},
            )  # fmt: skip
            assert status == 200, body
            viewer = ScriptedViewer(b.ws_url + "/ws/viewer", b.ssl_context(), b.base_url)
            await viewer.connect(body["ws_token"])
            await viewer.start_keys()
            # The client allows view and video in the window's consent prompt.
            await until(app, lambda: bool(w.panels), "the consent prompt")
            panel = next(iter(w.panels.values()))
            for perm in ("view", "video"):
                radio = panel.findChild(QRadioButton, f"allow_{perm}")
                assert radio is not None
                radio.setChecked(True)
            click(app, panel.confirm)
            await until(app, lambda: not w.panels, "the grant")

            click(app, w.call_button)  # the client starts the call
            await viewer.wait_for(lambda: viewer is not None and viewer.of_type(RtcOffer))
            offer = viewer.of_type(RtcOffer)[0]
            await viewer.send(RtcAnswer(sdp=await engineer.answer(offer.sdp)))

            cp = w.call_panel
            await until(
                app,
                lambda: cp.remote.frames_shown >= 5 and cp.preview.frames_shown >= 5,
                "remote video and local preview in the panel",
            )
            assert cp.isVisible() and cp.view.state == "active"
            assert (cp.remote.pixmap().width(), cp.remote.pixmap().height()) == (160, 120)
            assert (cp.preview.pixmap().width(), cp.preview.pixmap().height()) == (160, 120)
            low, high = pixel_spread(cp.remote)
            assert high - low > 60  # the engineer's moving bars, not a blank
            assert pixel_spread(cp.preview)[1] > 100  # the client's own camera pattern
            await until(app, lambda: engineer.frames["video"] > 5, "the client's video")
            # Redraws are throttled: never more than MAX_FPS pictures a second.
            shown, t0 = cp.remote.frames_shown, time.monotonic()
            await until(app, lambda: time.monotonic() - t0 > 1.0, "one second")
            assert cp.remote.frames_shown - shown <= MAX_FPS + 1
            assert w.grab().save(str(artifacts_dir / "1-in-call.png"))

            click(app, cp.mute_video)  # camera off: the engineer gets black frames
            await until(app, lambda: cp.view.video_muted, "the mute to reach the call")
            await viewer.wait_for(lambda: viewer is not None and viewer.of_type(RtcMute))
            assert viewer.of_type(RtcMute)[-1].video is True
            await until(app, lambda: pixel_spread(cp.preview)[1] < 40, "a black preview")
            assert cp.mute_video.text() == "Turn camera on"
            assert w.grab().save(str(artifacts_dir / "2-camera-off.png"))

            click(app, cp.hangup)
            await until(app, lambda: cp.isHidden(), "the panel to close")
            assert cp.view.state == "ended" and w.call_button.text() == "Video call"
            await viewer.wait_for(lambda: viewer is not None and viewer.of_type(RtcHangup))
            runner = session._core.call
            assert runner is not None and all(not m.live for m in runner.opened)
        finally:
            for s in sessions:
                s.kill("test_teardown")
            await engineer.close()
            if viewer is not None:
                await viewer.close()
            await eventually(
                lambda: not any(t.is_alive() for t in threads), what="the session threads ended"
            )
            w.close()


async def test_allowing_a_later_video_request_starts_the_call(
    app: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20 item 1: the engineer joined with `view` only, then asks for a call (a
    `permission.request` for `video`); the client's "allow" is the answer — the agent
    starts the call (call.start, rtc.offer) without a second prompt."""
    use_loopback_ice(monkeypatch)
    async with running_broker(tmp_path) as b:
        w, sessions, threads = start_window(b, tmp_path)
        viewer: ScriptedViewer | None = None
        try:
            w.describe_edit.setPlainText("Call me later")
            click(app, w.get_help)
            session = sessions[0]
            await until(app, lambda: session.connected, "the agent's connection")
            await b.create_user("alice", "engineer", name="Alice Engineer", password="pw-alice1")
            token = await b.login("alice", "pw-alice1")
            status, body, _ = await b.request(
                "POST", f"/api/v1/sessions/{session.session_id}/join", token=token,
                json={"as": "engineer", "permissions": ["view"]},
            )  # fmt: skip
            assert status == 200, body
            viewer = ScriptedViewer(b.ws_url + "/ws/viewer", b.ssl_context(), b.base_url)
            await viewer.connect(body["ws_token"])
            await viewer.start_keys()
            await until(app, lambda: bool(w.panels), "the consent prompt")
            first = next(iter(w.panels.values()))
            view = first.findChild(QRadioButton, "allow_view")
            assert view is not None
            view.setChecked(True)
            click(app, first.confirm)
            await until(app, lambda: not w.panels, "the grant")

            await viewer.send(PermissionRequest(permissions=("video",), note="Video call"))
            await until(app, lambda: bool(w.panels), "the call's consent prompt")
            panel = next(iter(w.panels.values()))
            radio = panel.findChild(QRadioButton, "allow_video")
            assert radio is not None
            radio.setChecked(True)
            click(app, panel.confirm)
            # No ring, no second button: the offer comes.
            await viewer.wait_for(lambda: viewer is not None and viewer.of_type(RtcOffer))
            runner = session._core.call
            assert runner is not None and runner.state in ("starting", "active")
        finally:
            for s in sessions:
                s.kill("test_teardown")
            if viewer is not None:
                await viewer.close()
            await eventually(
                lambda: not any(t.is_alive() for t in threads), what="the session threads ended"
            )
            w.close()
