"""After the end the agent completes its copy of the log over REST (issue 13, G10):
``GET /api/v1/agent/log?after=N`` with its session token returns the records it lacks
and the final signed checkpoint; they are merged in seq order, and the copy then
verifies as identical to the broker's."""

from __future__ import annotations

import json
from pathlib import Path

from agent.connection import make_ssl_context
from agent.locallog import LocalLog
from agent.logfetch import complete_log, missing_after
from audit.bundle import export_bundle, verify_bundle
from broker.testing import running_broker
from certs.verify import verify_checkpoint_signer
from protocol.messages import End
from tests.agent.conftest import live, start_agent, stop
from tests.helpers import eventually


async def test_the_copy_is_completed_after_the_end(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        rig = start_agent(b, tmp_path)
        try:
            await eventually(lambda: rig.session.connected, what="the agent's connection")
            viewer = await live(rig, "view")
            sid = rig.session.session_id
            token = rig.session._core.session_token
            assert token is not None
            status, body, _ = await b.request("GET", "/api/v1/agent/log?after=0", token=token)
            assert (status, body["error"]["code"]) == (409, "conflict")  # not ended yet
            await viewer.send(End(resolution="fixed"))
            await eventually(lambda: rig.observer.outcome is not None, what="the end")
        finally:
            await stop(rig)
        folder = b.data_dir / "sessions" / sid
        full = [json.loads(x) for x in (folder / "log.jsonl").read_text().splitlines()]
        # A copy that lost a record in the middle and everything after seq 5.
        local = LocalLog(tmp_path / "copy" / sid, sid)
        for r in [r for r in full if r["seq"] <= 5 and r["seq"] != 3]:
            local.record_broker(r, r["at_ms"])
        assert missing_after(local, None) == 2
        ssl_ctx = make_ssl_context(b.ca_cert_path.read_text())

        async def stored_as_ended() -> bool:
            status, _body, _ = await b.request("GET", "/api/v1/agent/log?after=2", token=token)
            return status == 200

        await eventually(stored_as_ended, what="the end stored")
        cp = await complete_log(local, None, b.base_url, ssl_ctx, token, 5.0)
        assert cp is not None and cp["seq"] == full[-1]["seq"]
        assert [r["seq"] for r in local.broker_records] == [r["seq"] for r in full]
        assert missing_after(local, cp) is None
        # The completed copy (the agent's folder) verifies as identical.
        bundle = export_bundle(b.data_dir, sid, tmp_path / "e.zip", client_copy=local.directory)
        report = verify_bundle(bundle, ca=b.ca_cert_path, signer_check=verify_checkpoint_signer)
        assert report.ok and report.comparison is not None, str(report)
        assert report.comparison.verdict == "identical"
        status, body, _ = await b.request("GET", "/api/v1/agent/log", token="not-a-token")
        assert status == 401
