"""Video chunks (SPEC §4.4) through the pure relay core and into the recording."""

from __future__ import annotations

from pathlib import Path

from audit.recording import DIR_AGENT, FRAME_BINARY, INDEX_FULL, Recording, RecordingWriter
from broker.relay.testing import Harness
from protocol import messages as m
from protocol.media import FLAG_KEY, AckFrame, VideoChunkFrame
from protocol.state import SessionState

CT = b"\x5a" * 32
T0 = 1_700_000_000_000


def chunk(seq: int, key: bool = False) -> bytes:
    return bytes(VideoChunkFrame(FLAG_KEY if key else 0, 1, seq, CT + seq.to_bytes(8, "big")))


def live() -> tuple[Harness, str]:
    h = Harness()
    h.connect_agent()
    vid = h.join(permissions=("view",))
    req = h.agent.of("consent.request")[-1]
    h.agent_says(m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("view",)))
    assert h.relay.state is SessionState.LIVE
    return h, vid


def test_chunks_are_relayed_metered_and_a_keyframe_supersedes_the_pending_one() -> None:
    h, vid = live()
    for seq in (1, 2, 3):
        h.agent_sends(chunk(seq, key=seq == 1))
    pending = h.relay.flow(vid).pending
    assert pending is not None and pending.seq == 3 and not pending.full
    h.agent_sends(chunk(4, key=True))
    pending = h.relay.flow(vid).pending
    assert pending is not None and pending.seq == 4 and pending.full
    h.viewer_sends(vid, bytes(AckFrame(1)))
    frames = [f for f in h.box(vid).frames() if isinstance(f, VideoChunkFrame)]
    assert [(f.seq, f.key) for f in frames] == [(1, True), (2, False), (4, True)]
    # relayed bytes are the agent's, unchanged; recorded once each
    recorded = [r.data for r in h.recorded if isinstance(r.data, bytes)]
    assert recorded == [chunk(1, True), chunk(2), chunk(3), chunk(4, True)]


def test_a_viewer_may_not_send_chunks() -> None:
    h, vid = live()
    h.viewer_sends(vid, chunk(1, key=True))
    assert [e.code for e in h.box(vid).of("error")] == ["forbidden"]
    assert h.agent.binary == []


def test_chunk_seq_must_increase() -> None:
    h, _ = live()
    h.agent_sends(chunk(5, key=True))
    h.agent_sends(chunk(5))
    assert [e.code for e in h.agent.of("error")] == ["invalid_field"]


def test_keyframes_are_the_recordings_seek_points(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path, "s1", T0) as w:
        for i in range(1, 41):
            w.append(DIR_AGENT, FRAME_BINARY, chunk(i, key=i % 10 == 1), T0 + i * 250)
    rec = Recording(tmp_path)
    assert [e.seq for e in rec.index if e.kind == INDEX_FULL] == [1, 11, 21, 31]
    assert rec.frames[0].is_full_update and not rec.frames[1].is_full_update
    assert rec.seek(6100).keyframe_seq == 21
