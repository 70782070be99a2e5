"""Recording fails closed (G10, issue 13 finding 3): when the recording cannot be written
no screen update is relayed, agent and viewer are told why, admins are alerted, and
once writes work the stream resumes with a new segment and a FULL update; the seal
marks the gap. With ``allow_unrecorded_sessions`` the session goes on and says so.

The real fault: the broker's data directory on a small tmpfs the test mounts and fills
to the last byte. Every update the viewer ever received must be in the recording.
"""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest

from audit.recording import FRAME_BINARY, FRAME_TEXT, Recording, RecordingWriter
from broker.relay.control import RELAY
from broker.testing import running_broker
from protocol.media import parse_binary
from protocol.messages import End, RecordingState
from tests.agent.conftest import live, start_agent, stop
from tests.faults import DiskFiller, small_tmpfs
from tests.helpers import eventually


def _recorded_seqs(folder: Path) -> tuple[set[int], list[dict[str, object]]]:
    rec = Recording(folder)
    seqs = {parse_binary(f.payload).seq for f in rec.frames if f.frame_type == FRAME_BINARY}  # type: ignore[union-attr]
    texts = [json.loads(f.text()) for f in rec.frames if f.frame_type == FRAME_TEXT]
    return seqs, texts


def _log(folder: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (folder / "log.jsonl").read_text().splitlines()]


async def test_a_full_disk_pauses_the_stream_and_resumes_with_a_new_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="broker.recording")
    with small_tmpfs(tmp_path / "disk", "32m") as disk:
        async with running_broker(disk) as b:
            rig = start_agent(b, tmp_path)
            try:
                await eventually(lambda: rig.session.connected, what="the agent's connection")
                viewer = await live(rig, "view")
                sid = rig.session.session_id
                folder = b.data_dir / "sessions" / sid
                filler = DiskFiller(disk)
                filler.fill()
                await viewer.wait_for(
                    lambda: any(m.state == "paused" for m in viewer.of_type(RecordingState))
                )
                paused_msg = viewer.of_type(RecordingState)[0]
                assert paused_msg.reason == "recording_unavailable"
                core = b.app[RELAY].backend.session(sid)
                assert core is not None
                at_pause, seq_at_pause = len(viewer.updates), core.last_update_seq
                await eventually(
                    lambda: any("recording unavailable" in n for n in rig.observer.notices),
                    what="the agent tells the client",
                )
                # The agent goes on sending (an old one would too); the broker relays none.
                await eventually(lambda: core.last_update_seq >= seq_at_pause + 2, what="updates")
                assert len(viewer.updates) <= at_pause + 1  # (one already queued for it)
                assert any("ALERT" in r.getMessage() for r in caplog.records)

                filler.free()
                await viewer.wait_for(
                    lambda: any(m.state == "on" for m in viewer.of_type(RecordingState)), 10
                )
                resumed_at = len(viewer.updates)
                await viewer.wait_for(lambda: len(viewer.updates) >= resumed_at + 3)
                assert any(f.full for f, _ in viewer.updates[resumed_at:])  # a FULL update
                await eventually(
                    lambda: any("works again" in n for n in rig.observer.notices),
                    what="the agent says it resumed",
                )
                await viewer.send(End(resolution="done"))
                await eventually(lambda: (folder / "review.jsonl").exists(), what="the seal")
            finally:
                await stop(rig)

            received = {f.seq for f, _ in viewer.updates}
            recorded, texts = _recorded_seqs(folder)
            assert received <= recorded, f"relayed but not recorded: {sorted(received - recorded)}"
            assert any(t.get("type") == "recording.state" and t.get("state") == "on" for t in texts)
            events = {r["event"]: r for r in _log(folder)}
            resumed = events["recording.resumed"]["detail"]
            assert isinstance(resumed, dict) and resumed["gap_ms"] > 0
            seals = [
                json.loads(x)
                for x in (folder / "review.jsonl").read_text().splitlines()
                if '"recording.sealed"' in x
            ]
            assert len(seals[-1]["detail"]["gaps"]) == 1  # the gap is marked in the seal


@pytest.mark.parametrize("allow", [False, True], ids=["fail-closed", "unrecorded-allowed"])
async def test_an_unwritable_recording_fault_injected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allow: bool
) -> None:
    """Only the recording fails (the log still writes): the pause is logged at once;
    where the organisation allows it, updates go on and the log says unrecorded."""
    broken = {"on": False}
    real_flush = RecordingWriter.flush

    def flush(self: RecordingWriter) -> None:
        if broken["on"]:
            raise OSError(errno.EIO, "Input/output error (injected)")
        real_flush(self)

    monkeypatch.setattr(RecordingWriter, "flush", flush)
    async with running_broker(tmp_path, allow_unrecorded_sessions=allow) as b:
        rig = start_agent(b, tmp_path)
        try:
            await eventually(lambda: rig.session.connected, what="the agent's connection")
            viewer = await live(rig, "view")
            folder = b.data_dir / "sessions" / rig.session.session_id
            broken["on"] = True
            want = "off" if allow else "paused"
            await viewer.wait_for(
                lambda: any(m.state == want for m in viewer.of_type(RecordingState))
            )
            at = len(viewer.updates)
            core = b.app[RELAY].backend.session(rig.session.session_id)
            assert core is not None
            seq = core.last_update_seq
            if allow:
                await viewer.wait_for(lambda: len(viewer.updates) >= at + 3)
            else:
                await eventually(lambda: core.last_update_seq >= seq + 2, what="updates")
                assert len(viewer.updates) <= at + 1
            event = "recording.unavailable" if allow else "recording.paused"
            record = next(r for r in _log(folder) if r["event"] == event)
            assert record["detail"] == {
                "reason": "recording_unavailable",
                "unrecorded_allowed": allow,
            }
            broken["on"] = False
            await viewer.wait_for(
                lambda: any(m.state == "on" for m in viewer.of_type(RecordingState)), 10
            )
            at = len(viewer.updates)
            await viewer.wait_for(lambda: len(viewer.updates) >= at + 2)
        finally:
            await stop(rig)
