"""G7/G10 on the agent: the client's own chain records the client's consent decisions.

Written by the guarantee verifier (docs/GUARANTEES.md): dropping the agent's local
``consent.granted`` record let every other agent test pass, because the broker's
copy of the grant also arrives (as a ``broker.record`` reference). The client's
copy must not depend on what the broker chooses to send: its own hash chain, on
its own disk, holds every grant, denial and revocation it made.
"""

from __future__ import annotations

import json
from typing import Any

from tests.agent.conftest import Rig, live
from tests.helpers import eventually


def _own(rig: Rig, event: str) -> list[dict[str, Any]]:
    log = rig.session.local_log
    assert log is not None
    return [dict(r.detail) for r in log.client_records if r.event == event]


async def test_grants_denials_and_revocations_are_in_the_clients_own_chain(rig: Rig) -> None:
    alice = await live(rig, "view")
    bob = await rig.join("bob", "Bob Supervisor", "view", role="supervisor")
    await eventually(lambda: len(rig.observer.prompts) >= 2, what="Bob's own prompt")
    rig.answer(1)  # the client says no to Bob
    rig.session.revoke(alice.viewer_id, ["view"])
    await eventually(lambda: _own(rig, "consent.revoked"), what="the local revocation record")

    granted = _own(rig, "consent.granted")
    assert [(d["viewer_id"], d["permissions"]) for d in granted] == [(alice.viewer_id, "view")]
    denied = _own(rig, "consent.denied")
    assert [(d["viewer_id"], d["permissions"]) for d in denied] == [(bob.viewer_id, "view")]
    revoked = _own(rig, "consent.revoked")
    assert [(d["viewer_id"], d["permissions"]) for d in revoked] == [(alice.viewer_id, "view")]

    log = rig.session.local_log
    assert log is not None
    on_disk = [
        json.loads(line)["event"]
        for line in (log.directory / "client.jsonl").read_text().splitlines()
    ]
    for event in ("consent.granted", "consent.denied", "consent.revoked"):
        assert event in on_disk
