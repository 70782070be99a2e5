"""The webhook client's TLS context (the system trust store, ~20 ms to load) is built
at the first delivery, once — not at every broker start."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from broker.testing import running_broker
from broker.webhooks.delivery import client_ssl_context
from broker.webhooks.testing import WebhookReceiver
from tests.broker.conftest import staff


async def test_the_trust_store_is_loaded_at_the_first_delivery_not_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Path | None] = []

    def counting(ca_file: Path | None) -> ssl.SSLContext:
        made.append(ca_file)
        return client_ssl_context(ca_file)

    monkeypatch.setattr("broker.webhooks.setup.client_ssl_context", counting)
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        async with running_broker(
            tmp_path, webhook_allow_http_loopback=True, webhook_poll_interval_s=0.05
        ) as b:
            assert made == []  # started and serving: no trust store loaded yet
            admin = await b.login(b.admin_username, b.admin_password)
            status, body, _ = await b.request(
                "POST",
                "/api/v1/webhooks",
                token=admin,
                json={"url": receiver.url, "events": ["ticket.created"]},
            )
            assert status == 201, body
            eng = await staff(b, "erin", "engineer")
            for n, title in enumerate(("Printer", "Scanner"), 1):
                status, _, _ = await b.request(
                    "POST", "/api/v1/tickets", token=eng, json={"title": title}
                )
                assert status == 201
                await receiver.wait_for(n)
                assert made == [None]  # the system store, at the first delivery, once
    finally:
        await receiver.stop()
