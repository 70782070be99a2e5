"""viewer/js/client.js in Chromium against a Python agent (protocol.e2e, protocol.media).

The page runs the real SessionClient and Display with a recording transport; the test
plays the broker's part by feeding control messages and binary frames, and checks what
the client sends back: key agreement, acks, refresh on a gap, input only while control
is granted, and nothing drawn after the session ended.
"""

from __future__ import annotations

import json
from typing import Any

from protocol import e2e
from protocol.media import EncodedImage, InputBatch, Rect, ScreenUpdate, parse_binary
from tests.viewer.testing import (
    SID,
    VID,
    full_update,
    joined,
    send_wrap,
    sent,
    tile_update,
    wait_sent,
)


async def test_key_agreement_gives_the_agents_verification_code(module_page: Any) -> None:
    agent = await joined(module_page)
    assert agent.keys is not None
    events = await module_page.evaluate("() => T.events")
    codes = [d for n, d in events if n == "verification"]
    assert codes == [agent.keys.verification_code]
    assert ["permissions", ["view"]] in events


async def test_updates_are_decrypted_drawn_and_acknowledged(module_page: Any) -> None:
    agent = await joined(module_page)
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(full_update(64, 48, (255, 0, 0)), full=True)
    )
    assert await module_page.evaluate("() => [T.canvas.width, T.canvas.height]") == [64, 48]
    assert await module_page.evaluate("() => T.pixel(10, 10)") == [255, 0, 0, 255]
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(tile_update(64, 48, 32, 16, 16, (0, 0, 255)), full=False)
    )
    assert await module_page.evaluate("() => T.pixel(40, 20)") == [0, 0, 255, 255]
    assert await module_page.evaluate("() => T.pixel(10, 10)") == [255, 0, 0, 255]
    acks = [m["hex"] for m in await sent(module_page) if "hex" in m]
    assert acks == ["030000000000000001", "030000000000000002"]
    # The display scales the 64x48 screen into the 400x300 stage, keeping the aspect ratio.
    box = await module_page.evaluate(
        "() => { const r = T.canvas.getBoundingClientRect(); return [r.width, r.height]; }"
    )
    assert box == [400, 300]


async def test_gap_in_seq_asks_for_refresh_and_full_clears_it(module_page: Any) -> None:
    agent = await joined(module_page)
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(full_update(32, 32, (0, 255, 0)), full=True)
    )
    refreshes_before = sum(
        1 for m in await sent(module_page) if m.get("text", {}).get("type") == "refresh"
    )
    agent.frame(
        tile_update(32, 32, 0, 0, 16, (1, 2, 3)), full=False
    )  # seq 2: replaced by the broker
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(tile_update(32, 32, 16, 16, 16, (9, 9, 9)), full=False)
    )
    msgs = await sent(module_page)
    refreshes = sum(1 for m in msgs if m.get("text", {}).get("type") == "refresh")
    assert refreshes == refreshes_before + 1
    assert msgs[-2]["hex"] == "030000000000000003"  # seq 3 drawn and acknowledged
    assert await module_page.evaluate("() => T.pixel(20, 20)") == [9, 9, 9, 255]


async def test_tampered_or_replayed_frames_are_not_drawn(module_page: Any) -> None:
    agent = await joined(module_page)
    good = agent.frame(full_update(16, 16, (200, 100, 50)), full=True)
    await module_page.evaluate("(h) => T.binary(h)", good)
    bad = bytearray(bytes.fromhex(agent.frame(full_update(16, 16, (0, 0, 0)), full=True)))
    bad[-1] ^= 1
    await module_page.evaluate("(h) => T.binary(h)", bad.hex())
    await module_page.evaluate("(h) => T.binary(h)", good)  # replay of seq 1
    assert await module_page.evaluate("() => T.pixel(5, 5)") == [200, 100, 50, 255]
    assert await module_page.evaluate("() => T.client.stats.drawn") == 1


async def test_unknown_messages_and_kinds_are_ignored(module_page: Any) -> None:
    agent = await joined(module_page)
    before = len(await sent(module_page))
    await module_page.evaluate("() => T.text({ type: 'future.feature', x: 1 })")
    await module_page.evaluate("() => T.binary('7f010203')")
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(full_update(16, 16, (1, 1, 1)), full=True)
    )
    events = await module_page.evaluate("() => T.events")
    assert [e for e in events if e[0] == "error"] == []
    assert len(await sent(module_page)) == before + 1  # only the ack


async def test_input_is_sealed_and_sent_only_while_control_is_granted(module_page: Any) -> None:
    agent = await joined(module_page)
    assert agent.keys is not None
    opener = e2e.InputOpener(SID, 3, agent.keys.input_key)
    batch = [
        {"type": "pointer_move", "x": 10, "y": 20},
        {"type": "button_down", "x": 10, "y": 20, "button": 1},
        {"type": "key_down", "keysym": 0xFF0D, "modifiers": 2},
    ]
    count = "() => T.sent.filter((m) => m.hex && m.hex.startsWith('02')).length"
    await module_page.evaluate("(b) => T.client.sendInput(b)", batch)
    assert await module_page.evaluate(count) == 0  # no control yet (G4)

    await module_page.evaluate(
        "(m) => T.text(m)",
        {"type": "consent.grant", "request_id": "r2", "viewer_id": VID, "permissions": ["control"]},
    )
    await module_page.evaluate("(b) => T.client.sendInput(b)", batch)
    frames = [m["hex"] for m in await sent(module_page) if m.get("hex", "").startswith("02")]
    assert len(frames) == 1
    parsed = parse_binary(bytes.fromhex(frames[0]))
    events = InputBatch.parse(opener.open(parsed)).events  # type: ignore[arg-type]
    assert [type(e).__name__ for e in events] == ["PointerMove", "ButtonDown", "KeyDown"]
    assert (events[2].keysym, events[2].modifiers) == (0xFF0D, 2)  # type: ignore[union-attr]

    # Control granted to another viewer does not count for this one.
    await module_page.evaluate(
        "(m) => T.text(m)", {"type": "consent.revoke", "viewer_id": VID, "permissions": ["control"]}
    )
    await module_page.evaluate("(b) => T.client.sendInput(b)", batch)
    await module_page.evaluate(
        "(m) => T.text(m)",
        {
            "type": "consent.grant",
            "request_id": "r3",
            "viewer_id": "v9",
            "permissions": ["control"],
        },
    )
    await module_page.evaluate("(b) => T.client.sendInput(b)", batch)
    assert await module_page.evaluate(count) == 1


async def test_pause_and_kill_reach_the_page_and_stop_drawing(module_page: Any) -> None:
    agent = await joined(module_page)
    await module_page.evaluate(
        "(m) => T.text(m)",
        {"type": "consent.grant", "request_id": "r2", "viewer_id": VID, "permissions": ["control"]},
    )
    await module_page.evaluate("() => T.text({ type: 'pause' })")
    assert await module_page.evaluate("() => [T.client.paused, T.client.hasControl]") == [
        True,
        False,
    ]
    await module_page.evaluate("() => T.text({ type: 'resume' })")
    assert await module_page.evaluate("() => [T.client.paused, T.client.hasControl]") == [
        False,
        True,
    ]
    await module_page.evaluate(
        "() => T.text({ type: 'session.ended', reason: 'killed_by_client', by: 'client' })"
    )
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(full_update(16, 16, (1, 1, 1)), full=True)
    )
    events = await module_page.evaluate("() => T.events")
    names = [n for n, _ in events]
    assert names.count("paused") == 2
    assert ["ended", {"reason": "killed_by_client", "by": "client"}] in events
    assert "frame" not in names
    assert await module_page.evaluate("() => T.client.hasControl") is False


async def test_chat_and_log_events_pass_through_as_data(module_page: Any) -> None:
    await joined(module_page)
    chat = {
        "type": "chat",
        "text": "<img src=x onerror=alert(1)>",
        "from": {"kind": "agent", "name": "Bob"},
        "at_ms": 5,
    }
    record = {
        "seq": 1,
        "at_ms": 5,
        "event": "viewer.joined",
        "actor": "alice",
        "detail": {},
        "prev": "0" * 64,
        "hash": "a" * 64,
    }
    await module_page.evaluate("(m) => T.text(m)", chat)
    await module_page.evaluate("(m) => T.text(m)", {"type": "log.event", "record": record})
    await module_page.evaluate("() => T.client.sendChat('hello there')")
    events = await module_page.evaluate("() => T.events")
    assert ["chat", chat] in events
    assert ["log", record] in events
    last = (await sent(module_page))[-1]
    assert last == {"text": {"type": "chat", "text": "hello there"}}
    assert json.dumps(last)  # plain JSON, nothing else


async def test_update_before_its_key_is_skipped_acked_and_refreshed(module_page: Any) -> None:
    agent = await joined(module_page, wrap=False)
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(full_update(16, 16, (5, 5, 5)), full=True)
    )
    assert await module_page.evaluate("() => T.client.stats") == {
        "drawn": 0,
        "dropped": 1,
        "refreshes": 0,
        "inputBatches": 0,
    }
    assert (await sent(module_page))[-1] == {"hex": "030000000000000001"}  # credit is not stalled
    await send_wrap(module_page, agent)
    await wait_sent(module_page, "m.text && m.text.type === 'refresh'")
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(full_update(16, 16, (7, 8, 9)), full=True)
    )
    assert await module_page.evaluate("() => T.pixel(3, 3)") == [7, 8, 9, 255]


async def test_undecodable_image_is_skipped_acked_and_refreshed(module_page: Any) -> None:
    agent = await joined(module_page)
    await module_page.evaluate(
        "(h) => T.binary(h)", agent.frame(full_update(16, 16, (4, 4, 4)), full=True)
    )
    garbage = bytes(
        ScreenUpdate(
            width=16,
            height=16,
            images=(EncodedImage(1, b"not a jpeg at all"),),
            rects=(Rect(0, 0, 0, 0, 0, 8, 8),),
        )
    )
    await module_page.evaluate("(h) => T.binary(h)", agent.frame(garbage, full=False))
    msgs = await sent(module_page)
    assert msgs[-2:] == [{"hex": "030000000000000002"}, {"text": {"type": "refresh"}}]
    assert await module_page.evaluate("() => T.client.stats.dropped") == 1
    assert await module_page.evaluate("() => T.pixel(2, 2)") == [4, 4, 4, 255]
