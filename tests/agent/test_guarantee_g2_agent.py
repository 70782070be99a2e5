"""G2 on the agent: a viewer whose ``view`` the client revokes loses the content key.

Written by the guarantee verifier (docs/GUARANTEES.md): removing the new key epoch
after a *revocation* (``ConsentFlow.after_loss``) let every other agent test pass
(they cover a viewer that *leaves*, not one whose permission is taken back). The
relay stops forwarding to that viewer, but G2 must not rest on the broker: later
frames use a content key the revoked viewer never receives.
"""

from __future__ import annotations

from tests.agent.conftest import Rig, live
from tests.helpers import eventually


async def test_revoking_view_from_one_viewer_moves_the_others_to_a_key_it_never_gets(
    rig: Rig,
) -> None:
    alice = await live(rig, "view")
    bob = await rig.join("bob", "Bob Supervisor", "view", role="supervisor")
    await eventually(lambda: len(rig.observer.prompts) >= 2, what="Bob's own prompt")
    rig.answer(1, "view")
    await bob.wait_for(lambda: len(bob.updates) >= 1)
    epoch_before = alice.updates[-1][0].epoch
    assert bob.updates[-1][0].epoch == epoch_before

    rig.session.revoke(bob.viewer_id, ["view"])
    await alice.wait_for(lambda: alice.updates[-1][0].epoch > epoch_before)
    assert rig.session.consent.viewers_with("view") == (alice.viewer_id,)
    new_epoch = alice.updates[-1][0].epoch
    wraps_for_bob = [m for m in bob.messages if m.type == "key.wrap" and m.epoch >= new_epoch]
    assert wraps_for_bob == []
    assert all(frame.epoch < new_epoch for frame, _ in bob.updates)
