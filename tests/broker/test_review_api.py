"""Review API on the real broker: who sees which recording, audited replays, scores,
the dashboard, retention."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from audit.bundle import export_bundle, verify_bundle
from audit.recording import RECORDING_FILE
from audit.testing import synthetic_recording, write_session_log
from broker.pki import PKI
from broker.recording import RECORDER
from broker.store import queries
from broker.store.db import DB
from broker.testing import RunningBroker, running_broker
from certs.verify import verify_checkpoint_signer


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[RunningBroker]:
    async with running_broker(tmp_path) as b:
        yield b


async def _user(broker: RunningBroker, username: str, role: str) -> tuple[str, str]:
    name, password = await broker.create_user(username, role)
    user = await queries.get_user_by_username(broker.app[DB], name)
    assert user is not None
    return user.id, await broker.login(name, password)


async def _ended_session(
    broker: RunningBroker, engineer_id: str, *, rating: int | None, wait_s: float, dur_s: float
) -> str:
    db = broker.app[DB]
    t0 = int(time.time() * 1000) - 600_000
    _, s = await queries.create_request(
        db, description="printer", client_name="Cli", organisation="Org", tier="standard", at=t0
    )
    await queries.mark_answered(db, s.id, engineer_id, t0 + int(wait_s * 1000))
    await queries.mark_ended(db, s.id, "ended_by_engineer", t0 + int((wait_s + dur_s) * 1000))
    if rating is not None:
        await queries.set_rating(db, s.id, rating, "ok")
    return s.id


def _record(broker: RunningBroker, sid: str) -> None:
    public = x25519.X25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    synthetic_recording(broker.data_dir / "sessions" / sid, sid, raw, duration_s=3, fps=4)


async def test_reviewer_replays_and_every_replay_is_audited(broker: RunningBroker) -> None:
    eng_id, _ = await _user(broker, "eng", "engineer")
    _, rev = await _user(broker, "rev", "reviewer")
    sid = await _ended_session(broker, eng_id, rating=4, wait_s=30, dur_s=300)
    pki = broker.app[PKI]
    write_session_log(broker.data_dir, sid, pki.signing_key)
    _record(broker, sid)

    status, body, _ = await broker.request("GET", "/api/v1/review/sessions", token=rev)
    assert status == 200
    listed = {s["id"]: s for s in body["sessions"]}
    assert listed[sid]["has_recording"] is True and listed[sid]["engineer_name"] == "Eng"

    status, _, _ = await broker.request(
        "GET", f"/api/v1/recordings/{sid}/data?replay=nope", token=rev
    )
    assert status == 403  # no bytes without an audited replay

    for n in (1, 2):
        status, opened, _ = await broker.request("GET", f"/api/v1/recordings/{sid}", token=rev)
        assert status == 200, opened
        assert opened["replay_record"]["event"] == "replay.viewed"
        assert opened["replay_record"]["seq"] == n
        assert len(opened["log"]) == 11 and opened["frames"] > 12
        assert opened["audit_keys"][0]["type"] == "key.audit"
    review = broker.app[RECORDER].review_records(sid)
    assert [r["event"] for r in review] == ["replay.viewed", "replay.viewed"]

    token = opened["replay_token"]
    whole = (broker.data_dir / "sessions" / sid / RECORDING_FILE).read_bytes()
    async with broker.client() as http:
        url = f"{broker.base_url}/api/v1/recordings/{sid}/data?replay={token}&start=10&end=500"
        async with http.get(url, headers={"Authorization": f"Bearer {rev}"}) as r:
            assert r.status == 200
            assert await r.read() == whole[10:500]
        url = f"{broker.base_url}/api/v1/recordings/{sid}/index?replay={token}"
        async with http.get(url, headers={"Authorization": f"Bearer {rev}"}) as r:
            assert r.status == 200 and len(await r.read()) % 25 == 0

    # The replays are part of the session's evidence and verify with it.
    bundle = export_bundle(broker.data_dir, sid, broker.data_dir / "b.zip")
    report = verify_bundle(bundle, ca=broker.ca_cert_path, signer_check=verify_checkpoint_signer)
    assert report.ok, str(report)
    assert report.review_records == 2


async def test_engineer_sees_only_their_own_recordings(broker: RunningBroker) -> None:
    a_id, a = await _user(broker, "alice", "engineer")
    b_id, _b = await _user(broker, "bob", "engineer")
    sa = await _ended_session(broker, a_id, rating=5, wait_s=10, dur_s=60)
    sb = await _ended_session(broker, b_id, rating=2, wait_s=10, dur_s=60)
    _record(broker, sa)
    _record(broker, sb)

    status, body, _ = await broker.request("GET", "/api/v1/review/sessions", token=a)
    assert status == 200 and [s["id"] for s in body["sessions"]] == [sa]
    status, _, _ = await broker.request(
        "GET", f"/api/v1/review/sessions?engineer_id={b_id}", token=a
    )
    assert status == 200
    status, _, _ = await broker.request("GET", f"/api/v1/recordings/{sb}", token=a)
    assert status == 403
    status, _, _ = await broker.request("GET", f"/api/v1/recordings/{sa}", token=a)
    assert status == 200
    status, _, _ = await broker.request(
        "POST",
        f"/api/v1/review/sessions/{sa}/reviews",
        token=a,
        json={"overall": 5, "competence": 5},
    )
    assert status == 403  # engineers do not score
    status, _, _ = await broker.request("GET", "/api/v1/review/dashboard", token=a)
    assert status == 403
    assert broker.app[RECORDER].review_records(sb) == []  # the refused replay left no bytes


async def test_scores_filters_and_dashboard(broker: RunningBroker) -> None:
    a_id, _ = await _user(broker, "alice", "engineer")
    b_id, _ = await _user(broker, "bob", "engineer")
    _, rev = await _user(broker, "rev", "reviewer")
    _, sup = await _user(broker, "sup", "supervisor")
    s1 = await _ended_session(broker, a_id, rating=5, wait_s=20, dur_s=100)
    await _ended_session(broker, a_id, rating=3, wait_s=40, dur_s=300)
    s3 = await _ended_session(broker, b_id, rating=None, wait_s=60, dur_s=50)

    for token, sid, overall, competence in ((rev, s1, 4, 5), (sup, s1, 2, 3), (rev, s3, 1, 2)):
        status, body, _ = await broker.request(
            "POST",
            f"/api/v1/review/sessions/{sid}/reviews",
            token=token,
            json={"overall": overall, "competence": competence, "notes": "seen"},
        )
        assert status == 201, body
    # scoring again replaces the reviewer's own score
    status, _, _ = await broker.request(
        "POST",
        f"/api/v1/review/sessions/{s3}/reviews",
        token=rev,
        json={"overall": 3, "competence": 4},
    )
    assert status == 201
    status, body, _ = await broker.request(
        "POST",
        f"/api/v1/review/sessions/{s3}/reviews",
        token=rev,
        json={"overall": 9, "competence": 4},
    )
    assert status == 400

    status, body, _ = await broker.request("GET", "/api/v1/review/sessions?min_rating=4", token=rev)
    assert [s["id"] for s in body["sessions"]] == [s1]
    assert sorted(r["overall"] for r in body["sessions"][0]["reviews"]) == [2, 4]
    status, body, _ = await broker.request(
        "GET", f"/api/v1/review/sessions?engineer_id={b_id}", token=rev
    )
    assert [s["id"] for s in body["sessions"]] == [s3]
    status, body, _ = await broker.request(
        "GET", "/api/v1/review/sessions?outcome=killed_by_client", token=rev
    )
    assert body["sessions"] == []

    status, body, _ = await broker.request("GET", "/api/v1/review/dashboard", token=rev)
    assert status == 200
    figures = {e["name"]: e for e in body["engineers"]}
    alice, bob = figures["Alice"], figures["Bob"]
    assert alice["sessions"] == 2 and bob["sessions"] == 1
    assert alice["avg_time_to_answer_s"] == pytest.approx(30)
    assert alice["avg_duration_s"] == pytest.approx(200)
    assert alice["avg_rating"] == pytest.approx(4) and alice["ratings"] == 2
    assert alice["avg_overall"] == pytest.approx(3) and alice["avg_competence"] == pytest.approx(4)
    assert bob["avg_rating"] is None and bob["avg_overall"] == pytest.approx(3)


async def test_retention_deletes_old_recordings_and_logs_it(broker: RunningBroker) -> None:
    eng_id, _ = await _user(broker, "eng", "engineer")
    _, rev = await _user(broker, "rev", "reviewer")
    old = await _ended_session(broker, eng_id, rating=None, wait_s=1, dur_s=1)
    new = await _ended_session(broker, eng_id, rating=None, wait_s=1, dur_s=1)
    _record(broker, old)
    _record(broker, new)
    folder = broker.data_dir / "sessions" / old
    long_ago = time.time() - 200 * 86400
    import os

    os.utime(folder / RECORDING_FILE, (long_ago, long_ago))
    recorder = broker.app[RECORDER]
    assert recorder.sweep(int(time.time() * 1000)) == [old]
    assert not (folder / RECORDING_FILE).exists()
    assert (broker.data_dir / "sessions" / new / RECORDING_FILE).exists()
    (deleted,) = recorder.review_records(old)
    assert deleted["event"] == "recording.deleted"
    assert deleted["detail"]["reason"] == "retention"
    status, body, _ = await broker.request("GET", f"/api/v1/recordings/{old}", token=rev)
    assert status == 404 and "retention" in str(body)


async def test_reviewer_verifies_and_downloads_the_evidence(broker: RunningBroker) -> None:
    eng_id, eng = await _user(broker, "eng", "engineer")
    _, rev = await _user(broker, "rev", "reviewer")
    sid = await _ended_session(broker, eng_id, rating=3, wait_s=5, dur_s=50)
    folder = write_session_log(broker.data_dir, sid, broker.app[PKI].signing_key)

    status, body, _ = await broker.request(
        "GET", f"/api/v1/review/sessions/{sid}/verify", token=rev
    )
    assert status == 200 and body["ok"] is True, body
    assert body["records"] == 11 and body["sealed_seq"] == 11

    async with broker.client() as http:
        url = f"{broker.base_url}/api/v1/review/sessions/{sid}/evidence"
        async with http.get(url, headers={"Authorization": f"Bearer {rev}"}) as r:
            assert r.status == 200 and r.content_type == "application/zip"
            zipped = await r.read()
    bundle = broker.data_dir / "downloaded.zip"
    bundle.write_bytes(zipped)
    report = verify_bundle(bundle, ca=broker.ca_cert_path, signer_check=verify_checkpoint_signer)
    assert report.ok and report.review_records == 1, str(report)
    assert [r["event"] for r in broker.app[RECORDER].review_records(sid)] == ["log.exported"]

    status, _, _ = await broker.request("GET", f"/api/v1/review/sessions/{sid}/verify", token=eng)
    assert status == 403  # engineers do not verify evidence

    # Someone edits the company's copy on disk: the reviewer's check names the record.
    lines = (folder / "log.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace('"broker"', '"mallory"')
    (folder / "log.jsonl").write_text("\n".join(lines) + "\n")
    status, body, _ = await broker.request(
        "GET", f"/api/v1/review/sessions/{sid}/verify", token=rev
    )
    assert status == 200 and body["ok"] is False
    first = body["findings"][0]
    assert (first["file"], first["line"], first["seq"], first["reason"]) == (
        "log.jsonl",
        3,
        3,
        "edited",
    )
