"""The engineer is told when the client has no camera (or microphone): the real agent
reports its devices in ``desktop.info`` (SPEC §3.5) and the call panel says so before
anyone asks for a call; the client is told when the call starts one-way."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.call.config import CallConfig
from agent.capture.pattern import PatternSource
from agent.config import AgentConfig
from agent.session import AgentSession
from agent.testing import RecordingInjector, RecordingObserver
from tests.helpers import eventually
from tests.viewer.conftest import watch_console
from tests.viewer.testing import HEIGHT, WIDTH, LiveAgent, join_live

EN = json.loads((Path(__file__).resolve().parents[2] / "viewer/i18n/en.json").read_text())


@pytest.fixture
async def camera_less(broker: Any, tmp_path: Path) -> AsyncIterator[LiveAgent]:
    """A real agent on a machine without a camera (a microphone, synthetic, is there)."""
    config = AgentConfig(
        broker_url=broker.base_url,
        ca_pem=broker.ca_cert_path.read_text(),
        client_name="Bob Client",
        describe="No webcam here",
        headless=True,
        source="pattern",
        log_dir=tmp_path / "agent-logs",
        injector="none",
        auto_consent_for_tests=("view",),
    ).check()
    observer = RecordingObserver()
    session = AgentSession(
        config,
        observer,
        source_factory=lambda: PatternSource(WIDTH, HEIGHT, motion=False),
        injector=RecordingInjector(),
        call_config=CallConfig(video="none", audio="synthetic"),
    )
    task = asyncio.create_task(session.run())
    await eventually(lambda: session.session_id, what="the agent's request")
    try:
        yield LiveAgent(session, observer, RecordingInjector(), task)
    finally:
        if not task.done():
            session.kill("test teardown")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)


async def test_the_call_panel_says_the_client_has_no_camera(
    broker: Any, camera_less: LiveAgent, page: Any
) -> None:
    problems = watch_console(page)
    await join_live(page, broker, camera_less)
    note = page.locator("#call-client-devices")
    await note.wait_for(state="attached")
    await page.wait_for_function(
        "() => !document.querySelector('#call-client-devices').hidden", timeout=10_000
    )
    assert (await note.text_content() or "").strip() == EN["call.client.no_camera"]
    assert await note.get_attribute("role") == "status"  # read out by screen readers
    assert problems == []


def test_the_agent_knows_its_devices_without_opening_them(tmp_path: Path) -> None:
    assert CallConfig(video="none", audio="synthetic").devices() == (False, True)
    assert CallConfig(video="synthetic", audio="none").devices() == (True, False)
    missing = tmp_path / "video9"  # a camera path that is not there
    assert CallConfig(video=f"v4l2:{missing}", audio="none").devices() == (False, False)
