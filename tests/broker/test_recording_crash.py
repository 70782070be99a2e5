"""kill -9 of the broker in the middle of a live session: the recording on disk replays
(decrypts and parses) up to the last second, and the session log verifies up to its last
signed checkpoint (everything after it is reported unsealed, not silently accepted)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import x25519

from agent.capture.pattern import PatternSource
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver, ScriptedViewer
from audit.bundle import export_bundle, verify_bundle
from audit.recording import FRAME_BINARY, FRAME_TEXT, Recording, read_audit_keys
from certs.keys import load_private_key
from certs.verify import verify_checkpoint_signer
from protocol.e2e import FrameOpener, unwrap_for_audit
from protocol.media import ScreenUpdate, ScreenUpdateFrame, parse_binary
from tests.helpers import broker_process, eventually

ROOT = Path(__file__).resolve().parents[2]


async def _api(
    http: aiohttp.ClientSession, method: str, url: str, token: str | None = None, **kw: Any
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, headers=headers, **kw) as r:
        body = await r.json()
        assert r.status < 300, (r.status, body)
        return body


def _b64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


async def test_kill_9_mid_session_leaves_a_replayable_verifiable_recording(tmp_path: Path) -> None:
    data = tmp_path / "data"
    processes = contextlib.ExitStack()
    agent_task: asyncio.Task[Any] | None = None
    viewer: ScriptedViewer | None = None
    try:
        bp = await asyncio.to_thread(processes.enter_context, broker_process(data))
        url, admin_password = bp.url, bp.admin_password
        ca_pem = (data / "ca" / "root.pem").read_text()
        ssl_ctx = ssl.create_default_context(cadata=ca_pem)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_ctx)) as http:
            admin = (
                await _api(
                    http,
                    "POST",
                    url + "/api/v1/auth/login",
                    json={"username": "admin", "password": admin_password},
                )
            )["token"]
            # The printed password is one-time: replace it first (password_change_required).
            admin = (
                await _api(
                    http,
                    "POST",
                    url + "/api/v1/auth/password",
                    admin,
                    json={"current_password": admin_password, "new_password": "admin's own one"},
                )
            )["token"]
            await _api(
                http, "POST", url + "/api/v1/users", admin,
                json={"username": "erin", "name": "Erin", "role": "engineer", "password": "correct horse battery"},
            )  # fmt: skip
            eng = (
                await _api(
                    http,
                    "POST",
                    url + "/api/v1/auth/login",
                    json={"username": "erin", "password": "correct horse battery"},
                )
            )["token"]
            eng = (
                await _api(
                    http,
                    "POST",
                    url + "/api/v1/auth/password",
                    eng,
                    json={
                        "current_password": "correct horse battery",
                        "new_password": "erin's own battery",
                    },
                )
            )["token"]

            config = AgentConfig(
                broker_url=url,
                ca_pem=ca_pem,
                client_name="Bob",
                describe="crash test",
                headless=True,
                source="pattern",
                log_dir=tmp_path / "agent-logs",
                injector="none",
                auto_consent_for_tests=("view",),
                reconnect_max_s=0.5,
            ).check()
            session = AgentSession(
                config,
                RecordingObserver(),
                source_factory=lambda: PatternSource(320, 200, motion=True),
                injector=RecordingInjector(),
            )
            agent_task = asyncio.create_task(session.run())
            sid = await eventually(lambda: session.session_id, timeout=15, what="the request")

            async def waiting() -> bool:  # the agent's socket is up: the request waits
                info = await _api(http, "GET", f"{url}/api/v1/sessions/{sid}", eng)
                return bool(info["state"] == "waiting")

            await eventually(waiting, what="the request waiting in the queue")
            joined = await _api(
                http, "POST", f"{url}/api/v1/sessions/{sid}/join", eng,
                json={"as": "engineer", "permissions": ["view"]},
            )  # fmt: skip
            ws_url = url.replace("https://", "wss://") + "/ws/viewer"
            viewer = ScriptedViewer(ws_url, ssl_ctx, url)
            await viewer.connect(joined["ws_token"])
            await viewer.start_keys()
            await viewer.wait_for(lambda: len(viewer.updates) >= 5, timeout=15)
            folder = data / "sessions" / sid
            await viewer.wait_for(lambda: (folder / "checkpoints.jsonl").exists(), timeout=10)
            # What the viewer has must be in the recording within a second or two (the
            # recorder writes what is half a second old, twice a second).
            seq_before = viewer.updates[-1][0].seq

            def recorded() -> bool:
                try:
                    frames = Recording(folder).frames
                except Exception:  # a record being written: not readable yet
                    return False
                return any(
                    f.frame_type == FRAME_BINARY and parse_binary(f.payload).seq >= seq_before
                    for f in frames
                )

            await eventually(recorded, timeout=2.5, what="the recorder catching up")
            await viewer.wait_for(lambda: len(viewer.updates) > 10)
            bp.proc.kill()  # SIGKILL: no shutdown, no final checkpoint
            bp.proc.wait(timeout=10)
    finally:
        processes.close()
        if viewer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(viewer.close(), 5)
        if agent_task is not None and not agent_task.done():
            session.kill("test teardown")
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(agent_task, 10)

    # -- the recording replays up to the last second --------------------------------
    rec = Recording(folder)
    audit_keys = read_audit_keys(folder)
    assert audit_keys, "the agent wrapped the content key for the audit recipient"
    passphrase = (data / "ca" / "passphrase").read_bytes().strip()
    audit_key = load_private_key(data / "ca" / "audit.key", passphrase)
    assert isinstance(audit_key, x25519.X25519PrivateKey)
    opener = FrameOpener(sid)
    for k in audit_keys:
        opener.add_key(
            k["epoch"],
            unwrap_for_audit(
                audit_key, sid, k["epoch"], _b64u(k["ephemeral_public"]), _b64u(k["wrapped_key"])
            ),
        )
    seqs = []
    for f in rec.frames:
        if f.frame_type == FRAME_BINARY:
            frame = parse_binary(f.payload)
            assert isinstance(frame, ScreenUpdateFrame)
            ScreenUpdate.parse(opener.open(frame))  # decrypts and parses
            seqs.append(frame.seq)
        else:
            assert f.frame_type == FRAME_TEXT
            json.loads(f.text())
    assert seqs and max(seqs) >= seq_before, (max(seqs), seq_before)
    assert rec.index and any(e.kind == 1 for e in rec.index)  # a seek point

    # -- the log verifies up to its last checkpoint -----------------------------------
    bundle = export_bundle(data, sid, tmp_path / "crashed.zip")
    report = verify_bundle(bundle, signer_check=verify_checkpoint_signer)
    assert report.sealed_seq is not None and report.sealed_seq >= 1
    reasons = {f.reason for f in report.findings}
    assert reasons <= {"unsealed", "not_final"}, str(report)
    assert not report.ok  # a crashed session is never reported as completely sealed
    # the recording was never closed, so never sealed: verify says so rather than "valid"
    rec_report = verify_bundle(bundle, recording=folder, signer_check=verify_checkpoint_signer)
    assert any(f.file == "recording.cprec" and f.reason == "unsealed" for f in rec_report.findings)
