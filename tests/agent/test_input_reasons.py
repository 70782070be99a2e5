"""Issue 14, item 10: the client's log says why input was not applied — no permission,
could not be decrypted, a replay, no input method — from the real input gate's reason,
never "no permission" for everything."""

from __future__ import annotations

import dataclasses

import pytest

from agent.consent import ConsentMachine
from agent.input import InputGate
from agent.killswitch import KillSwitch
from agent.locallog import describe
from protocol.media import ButtonDown
from tests.agent.conftest import SID, keys_for
from tests.agent.conftest import InputRig as Rig


def _text(reason: str | None) -> str:
    assert reason is not None
    detail = {"viewer_id": "v1", "reason": reason, "name": "Eve"}
    return describe("input.dropped", "v1", detail)


def test_no_permission() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view")
    result = rig.gate.handle(rig.frame("v1", ButtonDown(1, 1, 1)))
    assert _text(result.rejected) == (
        "Mouse and keyboard input from Eve was blocked (no permission)"
    )


def test_could_not_decrypt() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view", "control")
    frame = rig.frame("v1", ButtonDown(1, 1, 1))
    forged = dataclasses.replace(frame, ciphertext=bytes(len(frame.ciphertext)))
    text = _text(rig.gate.handle(forged).rejected)
    assert "could not be decrypted" in text and "no permission" not in text


def test_replayed_frame() -> None:
    rig = Rig("v1")
    rig.grant("v1", "view", "control")
    frame = rig.frame("v1", ButtonDown(1, 1, 1))
    assert rig.gate.handle(frame).rejected is None
    text = _text(rig.gate.handle(frame).rejected)
    assert "replayed" in text and "no permission" not in text


def test_no_input_method() -> None:
    consent, kill = ConsentMachine(), KillSwitch()
    gate = InputGate(SID, consent, kill, None)  # no display: no injector
    key, sealer = keys_for("v1")
    gate.add_viewer("v1", key)
    rig = Rig()
    rig.consent = consent
    rig.grant("v1", "view", "control")
    from protocol.media import InputBatch

    frame = sealer.seal(bytes(InputBatch((ButtonDown(1, 1, 1),))))
    text = _text(gate.handle(frame).rejected)
    assert "not available on this computer" in text and "no permission" not in text


@pytest.mark.parametrize("reason", ["killed", "paused"])
def test_stopped_or_paused(reason: str) -> None:
    assert "stopped or paused" in _text(reason)
