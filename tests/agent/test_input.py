"""Input gating (G4) and what the client's log may say about input (G7)."""

from __future__ import annotations

import dataclasses

import pytest

from agent.input import InputGate
from agent.keys import MOD_CTRL, MOD_SHIFT, InputSummary, describe_key
from agent.testing import RecordingInjector
from protocol.e2e import InputSealer, viewer_number
from protocol.media import (
    ButtonDown,
    ButtonUp,
    InputBatch,
    InputFrame,
    KeyDown,
    KeyUp,
    PointerMove,
    Wheel,
)
from tests.agent.conftest import SID, T0, keys_for
from tests.agent.conftest import InputRig as Rig


def test_input_without_control_is_not_applied() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view")  # view only, as a hostile broker forwards input anyway
    result = rig.gate.handle(rig.frame("v1", ButtonDown(10, 10, 1), ButtonUp(10, 10, 1)))
    assert rig.injector.calls == []
    assert result.rejected == "not_granted" and result.summary.dropped == 2


def test_input_with_control_is_applied_and_summarised() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view", "control")
    result = rig.gate.handle(
        rig.frame(
            "v1",
            PointerMove(5, 6),
            ButtonDown(5, 6, 1),
            ButtonUp(5, 6, 1),
            KeyDown(ord("s"), 0),
            KeyUp(ord("s"), 0),
            KeyDown(ord("E"), MOD_SHIFT),
            KeyDown(0xFF0D, 0),
            KeyDown(ord("c"), MOD_CTRL),
            Wheel(5, 6, 0, 2),
        )
    )
    assert result.rejected is None and result.applied_any
    assert ("button", 5, 6, 1, True) in rig.injector.calls
    assert ("key", ord("s"), True) in rig.injector.calls
    s = result.summary
    assert (s.clicks, s.keys, s.scrolls, s.moves) == (1, 2, 1, 1)
    assert s.special == ["Enter", "Ctrl+C"]
    # the log detail never contains the typed characters
    detail = s.detail()
    assert "s" not in str(detail["special"]).lower().replace("scroll", "")
    assert set(detail) == {"clicks", "keys", "special", "scrolls", "moves"}


def test_revoke_takes_effect_before_the_next_event() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view", "control")
    rig.gate.handle(rig.frame("v1", ButtonDown(1, 1, 1)))
    assert len(rig.injector.calls) == 1
    rig.consent.revoke("v1", ["control"])
    result = rig.gate.handle(rig.frame("v1", ButtonUp(1, 1, 1)))
    assert len(rig.injector.calls) == 1 and result.rejected == "not_granted"


def test_revoke_inside_a_batch_stops_the_rest() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view", "control")

    class RevokingInjector(RecordingInjector):
        def key(self, keysym: int, pressed: bool) -> None:
            super().key(keysym, pressed)
            rig.consent.revoke("v1", ["control"])  # the client clicks "revoke" meanwhile

    rig.injector = RevokingInjector()
    rig.gate = InputGate(SID, rig.consent, rig.kill, rig.injector)
    key, sealer = keys_for("v1")
    rig.gate.add_viewer("v1", key)
    rig.sealers["v1"] = sealer
    result = rig.gate.handle(rig.frame("v1", KeyDown(97, 0), KeyDown(98, 0), KeyDown(99, 0)))
    assert rig.injector.calls == [("key", 97, True)]
    assert result.summary.dropped == 2


def test_forged_frame_is_rejected() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view", "control")
    good = rig.frame("v1", ButtonDown(1, 1, 1))
    ct = bytearray(good.ciphertext)
    ct[0] ^= 1
    result = rig.gate.handle(dataclasses.replace(good, ciphertext=bytes(ct)))
    assert result.rejected == "decrypt_failed" and rig.injector.calls == []
    # a frame sealed with another key (e.g. by the broker) is rejected too
    _, other = keys_for("v1")
    result = rig.gate.handle(other.seal(bytes(InputBatch((ButtonDown(1, 1, 1),)))))
    assert result.rejected is not None and rig.injector.calls == []
    # the genuine frame still opens: failures changed no state
    assert rig.gate.handle(good).applied_any


def test_forged_seq_does_not_move_the_replay_counter() -> None:
    """SPEC §8.3: the counter moves only on authenticated frames, so forged frames with
    the genuine seq n, or a later seq, do not make the genuine seq n be dropped."""
    rig = Rig("v1")
    rig.grant("v1", "view", "control")
    good = rig.frame("v1", ButtonDown(1, 1, 1))
    for seq in (good.seq, good.seq + 5):
        forged = InputFrame(sender=good.sender, seq=seq, ciphertext=bytes(32))
        assert rig.gate.handle(forged).rejected == "decrypt_failed"
    assert rig.gate.handle(good).applied_any


def test_replayed_frame_is_rejected() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view", "control")
    frame = rig.frame("v1", ButtonDown(1, 1, 1))
    assert rig.gate.handle(frame).applied_any
    result = rig.gate.handle(frame)
    assert result.rejected == "replayed" and len(rig.injector.calls) == 1


def test_frames_held_back_before_a_grant_cannot_be_replayed_after_it() -> None:
    rig = Rig("v1")
    early = rig.frame("v1", ButtonDown(1, 1, 1))
    later = rig.frame("v1", ButtonDown(2, 2, 1))
    assert rig.gate.handle(later).rejected == "not_granted"  # authenticated, not applied
    rig.grant("v1", "view", "control")
    assert rig.gate.handle(early).rejected == "replayed"
    assert rig.injector.calls == []


def test_input_from_another_viewers_number_is_rejected() -> None:
    rig = Rig("v1", "v2")
    rig.grant("v1", "view", "control")
    rig.grant("v2", "view")
    # v2 (no control) forges a frame with v1's sender number but its own key
    key2, _ = keys_for("v2")
    forged_sealer = InputSealer(SID, viewer_number("v1"), key2)
    result = rig.gate.handle(forged_sealer.seal(bytes(InputBatch((ButtonDown(1, 1, 1),)))))
    assert result.rejected == "decrypt_failed" and rig.injector.calls == []
    unknown = InputFrame(sender=77, seq=1, ciphertext=b"x" * 32)
    assert rig.gate.handle(unknown).rejected == "unknown_sender"


def test_kill_and_pause_block_input() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view", "control")
    rig.kill.pause()
    assert rig.gate.handle(rig.frame("v1", ButtonDown(1, 1, 1))).rejected == "paused"
    rig.kill.resume()
    rig.kill.kill(T0)
    assert rig.gate.handle(rig.frame("v1", ButtonDown(1, 1, 1))).rejected == "killed"
    assert rig.injector.calls == []


@pytest.mark.parametrize(
    ("keysym", "mods", "name"),
    [
        (0xFF0D, 0, "Enter"),
        (0xFF09, 0, "Tab"),
        (0xFF1B, 0, "Escape"),
        (0xFFBE, 0, "F1"),
        (0xFFC9, 0, "F12"),
        (0xFF51, 0, "Left"),
        (0xFF54, 0, "Down"),
        (ord("x"), MOD_CTRL, "Ctrl+X"),
        (0xFF0D, MOD_CTRL, "Ctrl+Enter"),
        (ord("a"), 0, None),
        (ord("A"), MOD_SHIFT, None),
        (0xFFE3, MOD_CTRL, None),  # Control itself
    ],
)
def test_key_names(keysym: int, mods: int, name: str | None) -> None:
    assert describe_key(keysym, mods) == name


def test_summary_text_counts_but_never_names_characters() -> None:
    s = InputSummary(clicks=2, keys=5, special=["Enter"])
    assert s.text() == "clicked 2 times, typed 5 keys, pressed Enter"
