"""create_app wiring: resource order (the relay stops before the database closes),
the escalation task running in the background, the enrollment file, TLS."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp

from broker.app import create_app
from broker.relay.control import RELAY
from broker.testing import FakeClock, running_broker, test_config
from tests.helpers import eventually


def test_relay_context_is_cleaned_up_before_the_database(tmp_path: Path) -> None:
    app = create_app(test_config(tmp_path))
    contexts = list(app.cleanup_ctx)
    names = [getattr(ctx, "__name__", "") for ctx in contexts]
    relay_index = contexts.index(app[RELAY].ctx)  # type: ignore[attr-defined]
    # Cleanup contexts stop in reverse order: the database (first) closes last.
    assert names[0] == "database_ctx" and relay_index > 0


async def test_escalation_task_runs_in_the_background(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000_000)
    async with running_broker(tmp_path, clock=clock, escalation_interval_s=0.02) as broker:
        admin = await broker.login(broker.admin_username, broker.admin_password)
        status, _, _ = await broker.request(
            "PUT", "/api/v1/organisations/Acme", token=admin, json={"tier": "premium"}
        )
        assert status == 200
        status, req, _ = await broker.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "d", "client_name": "c", "organisation": "Acme"},
        )
        assert status == 201
        clock.advance(240)
        sup_name, sup_pw = await broker.create_user("sue", "supervisor")
        sup = await broker.login(sup_name, sup_pw)

        async def escalated() -> list[Any]:
            status, body, _ = await broker.request("GET", "/api/v1/escalations", token=sup)
            return list(body["escalations"]) if status == 200 else []

        escalations = await eventually(escalated, what="the escalation")
        assert [e["session_id"] for e in escalations] == [req["session_id"]]


async def test_enrollment_file_and_pinned_tls(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as broker:
        enrollment = json.loads(broker.enrollment_path.read_text())
        assert enrollment["broker_url"] == broker.base_url
        assert enrollment["ca_pem"] == broker.ca_cert_path.read_text()
        # A client that trusts only the enrollment CA connects; one with the system
        # store does not (the broker's CA is private).
        pinned = ssl.create_default_context(cadata=enrollment["ca_pem"])
        async with aiohttp.ClientSession() as http:
            async with http.get(broker.base_url + "/api/v1/health", ssl=pinned) as r:
                assert r.status == 200
            try:
                async with http.get(
                    broker.base_url + "/api/v1/health", ssl=ssl.create_default_context()
                ):
                    verified = True
            except aiohttp.ClientConnectorCertificateError:
                verified = False
        assert verified is False
