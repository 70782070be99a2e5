"""The connector's parts without servers: its signature check agrees with the broker's
signer (it cannot import it), its settings, and the follow-up texts it finds again."""

from __future__ import annotations

import time
from typing import Any

import pytest

from broker.webhooks.signing import new_secret, signature_header
from integrations.clearpane import SignatureError, verify_signature
from integrations.django_helpdesk.config import ConfigError, ConnectorConfig
from integrations.django_helpdesk.texts import (
    has_invitation,
    has_summary,
    invitation_text,
    is_twin_of,
    summary_text,
    twin_description,
)

BODY = b'{"type":"session.ended"}'


def test_a_broker_signature_verifies_and_a_changed_one_does_not() -> None:
    secret, now = new_secret(), int(time.time())
    header = signature_header(secret, now, BODY)
    verify_signature(secret, str(now), BODY, header, now=now)
    verify_signature(secret, str(now), BODY, f"v1=00, {header}", now=now)  # rotation
    with pytest.raises(SignatureError):
        verify_signature(secret, str(now), BODY + b" ", header, now=now)
    with pytest.raises(SignatureError):
        verify_signature(new_secret(), str(now), BODY, header, now=now)
    with pytest.raises(SignatureError):  # replayed later than the tolerance
        verify_signature(secret, str(now), BODY, header, now=now + 301)
    with pytest.raises(SignatureError):
        verify_signature(secret, "soon", BODY, header, now=now)


def test_settings_from_the_environment() -> None:
    env = {
        "CLEARPANE_CONNECTOR_CLEARPANE_URL": "https://help.example.com",
        "CLEARPANE_CONNECTOR_API_KEY": "cpk_x",
        "CLEARPANE_CONNECTOR_HELPDESK_URL": "https://desk.example.com/helpdesk",
        "CLEARPANE_CONNECTOR_HELPDESK_USER": "desk",
        "CLEARPANE_CONNECTOR_HELPDESK_PASSWORD": "pw",
        "CLEARPANE_CONNECTOR_WEBHOOK_SECRET": "whsec_x",
        "CLEARPANE_CONNECTOR_QUEUES": "1, 4",
        "CLEARPANE_CONNECTOR_POLL_INTERVAL_S": "2.5",
        "CLEARPANE_CONNECTOR_LANGUAGE": "ru",
    }
    config = ConnectorConfig.from_env(env)
    assert (config.queues, config.poll_interval_s, config.language) == ((1, 4), 2.5, "ru")
    with pytest.raises(ConfigError, match="CLEARPANE_CONNECTOR_API_KEY"):
        ConnectorConfig.from_env({k: v for k, v in env.items() if "API_KEY" not in k})
    with pytest.raises(ConfigError, match="CLEARPANE_CONNECTOR_QUEUES"):
        ConnectorConfig.from_env({**env, "CLEARPANE_CONNECTOR_QUEUES": "one"})


def test_follow_ups_are_found_again_in_every_language() -> None:
    session = {"id": "s9", "outcome": "ended_by_engineer", "resolution": "Fixed",
               "engineer": {"name": "Erin"}, "duration_s": 125, "rating": {"score": 5}}  # fmt: skip
    for lang in ("en", "ru"):
        ticket = {"followup_set": [{"comment": invitation_text("1234-5678", "soon", lang)},
                                   {"comment": summary_text(session, signed=False, language=lang)}]}  # fmt: skip
        assert has_invitation(ticket) and has_summary(ticket, "s9")
        assert not has_summary(ticket, "s1")
    text = summary_text(session, signed=False)
    assert "Duration: 2 min 5 s" in text and "Client's rating: 5/5" in text
    assert "Длительность: 2 мин 5 с" in summary_text(session, signed=True, language="ru")
    signed = {"session_id": "s9", "duration_ms": 61_000, "time_to_answer_ms": 4_000,
              "participants": [{"role": "client", "name": "Bob"},
                               {"role": "engineer", "name": "Erin"}],
              "actions": {"clicks": 4, "keys": 15}}  # fmt: skip
    text = summary_text(signed, signed=True)
    assert text.startswith("[Clearpane] session s9 summary")
    for part in ("Duration: 1 min 1 s", "Time to answer: 0 min 4 s", "Engineer: Erin",
                 "Engineer's input: 4 clicks, 15 keys", "verify-summary"):  # fmt: skip
        assert part in text, part
    assert not has_invitation({"followup_set": [{"comment": "code 1234-5678"}]})


def test_a_twin_is_recognised_and_never_invited() -> None:
    twin = {"description": twin_description("cp42", "Outlook crashes"), "followup_set": []}
    assert is_twin_of(twin, "cp42") and not is_twin_of(twin, "cp4")
    assert has_invitation(twin)  # the client is connected already: the poller skips it
    assert not is_twin_of({"description": "cp42"}, "cp42")


def test_the_command_names_what_is_missing() -> None:
    import subprocess
    import sys
    from pathlib import Path

    from tests.helpers import clean_env

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in clean_env(PYTHONPATH=str(root)).items()}
    done = subprocess.run(
        [sys.executable, "-m", "integrations.django_helpdesk"],
        cwd=root, env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "CLEARPANE_CONNECTOR_API_KEY" in done.stderr


async def test_a_webhook_is_not_acknowledged_while_the_help_desk_is_down(
    aiohttp_client: Any,
) -> None:
    """Nothing listens where the help desk should be (a real refused connection): the
    connector answers 503, so Clearpane's outbox delivers the event again later."""
    import json
    import socket

    from integrations.django_helpdesk import Connector, ConnectorConfig
    from integrations.django_helpdesk.connector import WEBHOOK_PATH

    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = new_secret()
    config = ConnectorConfig(
        clearpane_url=f"https://127.0.0.1:{port}", api_key="cpk_x",
        helpdesk_url=f"http://127.0.0.1:{port}/helpdesk", helpdesk_user="desk",
        helpdesk_password="pw", webhook_secret=secret,
    )  # fmt: skip
    connector = Connector(config)
    try:
        client = await aiohttp_client(connector.webhook_app())

        async def deliver(ref: dict[str, str]) -> int:
            event = {"type": "session.ended",
                     "data": {"session": {"id": "s1"}, "ticket": ref}}  # fmt: skip
            body = json.dumps(event).encode()
            now = int(time.time())
            headers = {"X-Clearpane-Timestamp": str(now),
                       "X-Clearpane-Signature": signature_header(secret, now, body)}  # fmt: skip
            async with client.post(WEBHOOK_PATH, data=body, headers=headers) as r:
                return r.status

        assert await deliver({"external_source": "django-helpdesk", "external_ref": "7"}) == 503
        # Another help desk's ticket is none of this connector's business: acknowledged.
        assert await deliver({"external_source": "zammad", "external_ref": "7"}) == 204
    finally:
        await connector.close()
