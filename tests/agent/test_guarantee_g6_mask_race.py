"""G6: a frame grabbed while the client changes the masks is never sent.

Written by the guarantee verifier (docs/GUARANTEES.md): removing the generation
check at the end of the capture step (``Stream.grab``: "masks changed during
the grab: never send it") let every other agent test pass, because none changes
the masks *while* a grab is running. ``AgentSession.set_masks`` promises "a frame
grabbed before the change is discarded"; this test holds a grab open, changes the
masks, then lets the grab finish. No event loop is needed: the capture step runs
in a worker thread in production too.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agent.capture import open_source
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingObserver

_PEM = "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"  # never used


class HeldSource:
    """A real pattern source whose next ``grab()`` waits until the test releases it."""

    def __init__(self) -> None:
        self.inner = open_source("pattern:320x240")
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()

    @property
    def size(self) -> tuple[int, int]:
        w, h = self.inner.size
        return int(w), int(h)

    def grab(self) -> Any:
        if self.hold:
            self.entered.set()
            assert self.release.wait(5), "the test never released the grab"
        return self.inner.grab()

    def close(self) -> None:
        self.inner.close()


def _session(tmp_path: Path, source: HeldSource) -> AgentSession:
    config = AgentConfig(
        broker_url="https://127.0.0.1:9",
        ca_pem=_PEM,
        client_name="Carol Client",
        source="pattern:320x240",
        log_dir=tmp_path / "logs",
        describe="help",
    ).check()
    return AgentSession(config, RecordingObserver(), source_factory=lambda: source)


def test_a_grab_overlapping_a_mask_change_is_discarded(tmp_path: Path) -> None:
    source = HeldSource()
    session = _session(tmp_path, source)
    try:
        assert session._stream.grab(True) is not None  # control: an undisturbed grab is kept
        source.hold = True
        out: list[Any] = []
        worker = threading.Thread(target=lambda: out.append(session._stream.grab(True)))
        worker.start()
        assert source.entered.wait(5)
        session.set_masks([(0, 0, 160, 120)])  # the client masks a region mid-grab
        source.release.set()
        worker.join(5)
        assert out == [None]  # grabbed under the old masks: never sent
        source.hold = False
        assert session._stream.grab(True) is not None  # the next grab uses the new masks
    finally:
        session._stream.release_capture()
