"""SPEC §8 end-to-end crypto: golden vectors, round trips, tampering, replay, MITM."""

from __future__ import annotations

import ast
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import e2e
from protocol.e2e import (
    AgentKeyAgreement,
    ContentKeyring,
    E2EError,
    FrameOpener,
    FrameSealer,
    InputOpener,
    InputSealer,
    PeerKeys,
    ViewerKeyAgreement,
)
from protocol.errors import ProtocolError
from protocol.media import InputFrame, ScreenUpdateFrame, parse_binary

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "e2e.json").read_text(encoding="utf-8")
)
SID = VECTORS["session_id"]
VID = VECTORS["viewer_id"]
H = bytes.fromhex


def _key(label: str) -> bytes:
    return hashlib.sha256(b"test_e2e " + label.encode()).digest()


def _pub(private: bytes) -> bytes:
    return (
        X25519PrivateKey.from_private_bytes(private)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _lp(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">H", len(raw)) + raw


def _hkdf(z: bytes, salt: bytes, info: bytes, n: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(z)


def _agree(
    sid: str = SID, vid: str = VID, agent_key: bytes | None = None, viewer_key: bytes | None = None
) -> tuple[PeerKeys, PeerKeys]:
    viewer = ViewerKeyAgreement(sid, vid, private_key=viewer_key)
    agent = AgentKeyAgreement(sid, vid, private_key=agent_key)
    a = agent.on_commit(viewer.commitment)
    v, viewer_keys = viewer.reveal(a)
    return agent.on_reveal(v), viewer_keys


# --- golden vectors ------------------------------------------------------------------


def test_vector_agreement_matches_spec_formulas() -> None:
    """Recompute §8.1 from the raw primitives, independently of protocol.e2e."""
    ag = VECTORS["agreement"]
    a_priv, v_priv = H(ag["agent_private"]), H(ag["viewer_private"])
    a_pub, v_pub = _pub(a_priv), _pub(v_priv)
    assert a_pub.hex() == ag["agent_public"]
    assert v_pub.hex() == ag["viewer_public"]
    commitment = hashlib.sha256(v_pub).digest()
    assert commitment.hex() == ag["commitment"]
    t = hashlib.sha256(
        b"clearpane.v1 transcript" + _lp(SID) + _lp(VID) + commitment + a_pub + v_pub
    ).digest()
    assert t.hex() == ag["transcript"]
    z = X25519PrivateKey.from_private_bytes(a_priv).exchange(
        X25519PrivateKey.from_private_bytes(v_priv).public_key()
    )
    assert z.hex() == ag["shared_secret"]
    assert _hkdf(z, t, b"clearpane.v1 wrap", 32).hex() == ag["wrap_key"]
    assert _hkdf(z, t, b"clearpane.v1 input", 32).hex() == ag["input_key"]
    sas = _hkdf(z, t, b"clearpane.v1 sas", 4)
    assert sas.hex() == ag["sas"]
    code = f"{int.from_bytes(sas, 'big') % 1_000_000:06d}"
    assert ag["verification_code"] == f"{code[:3]} {code[3:]}"


def test_vector_agreement_through_the_api() -> None:
    ag = VECTORS["agreement"]
    viewer = ViewerKeyAgreement(SID, VID, private_key=H(ag["viewer_private"]))
    assert viewer.commitment.hex() == ag["commitment"]
    agent = AgentKeyAgreement(SID, VID, private_key=H(ag["agent_private"]))
    assert agent.on_commit(viewer.commitment).hex() == ag["agent_public"]
    v_pub, viewer_keys = viewer.reveal(H(ag["agent_public"]))
    assert v_pub.hex() == ag["viewer_public"]
    keys = agent.on_reveal(v_pub)
    for k in (keys, viewer_keys):
        assert k.wrap_key.hex() == ag["wrap_key"]
        assert k.input_key.hex() == ag["input_key"]
        assert k.verification_code == ag["verification_code"]
    assert (
        e2e.transcript_hash(SID, VID, viewer.commitment, H(ag["agent_public"]), v_pub).hex()
        == ag["transcript"]
    )


def test_vector_content_wraps() -> None:
    wrap_key = H(VECTORS["agreement"]["wrap_key"])
    for w in VECTORS["content_wraps"]:
        wrapped = e2e.wrap_content_key(wrap_key, SID, VID, w["epoch"], H(w["content_key"]))
        assert wrapped.hex() == w["wrapped"]
        assert len(wrapped) == 48
        # Independent check of nonce and AAD (§8.2).
        aad = b"clearpane.v1 wrap" + _lp(SID) + _lp(VID)
        nonce = struct.pack(">IQ", 0, w["epoch"])
        assert AESGCM(wrap_key).decrypt(nonce, wrapped, aad).hex() == w["content_key"]
        assert e2e.unwrap_content_key(wrap_key, SID, VID, w["epoch"], wrapped) == H(
            w["content_key"]
        )


def test_vector_audit_wrap() -> None:
    au = VECTORS["audit"]
    r_pub = _pub(H(au["recipient_private"]))
    assert r_pub.hex() == au["recipient_public"]
    got = e2e.wrap_for_audit(
        r_pub, SID, au["epoch"], H(au["content_key"]), ephemeral_private=H(au["ephemeral_private"])
    )
    assert got.ephemeral_public.hex() == au["ephemeral_public"]
    assert got.wrapped_key.hex() == au["wrapped"]
    # Independent recomputation of K_audit (§8.2).
    q = X25519PrivateKey.from_private_bytes(H(au["ephemeral_private"]))
    z = q.exchange(X25519PrivateKey.from_private_bytes(H(au["recipient_private"])).public_key())
    salt = hashlib.sha256(
        b"clearpane.v1 audit" + _lp(SID) + H(au["ephemeral_public"]) + r_pub
    ).digest()
    k_audit = _hkdf(z, salt, b"clearpane.v1 audit wrap", 32)
    plain = AESGCM(k_audit).decrypt(
        struct.pack(">IQ", 0, au["epoch"]), H(au["wrapped"]), b"clearpane.v1 audit" + _lp(SID)
    )
    assert plain.hex() == au["content_key"]
    assert e2e.unwrap_for_audit(
        H(au["recipient_private"]), SID, au["epoch"], H(au["ephemeral_public"]), H(au["wrapped"])
    ) == H(au["content_key"])


def test_vector_screen_frames_seal_and_open() -> None:
    keys = {w["epoch"]: H(w["content_key"]) for w in VECTORS["content_wraps"]}
    sealer = FrameSealer(SID, 1, keys[1])
    opener = FrameOpener(SID)
    for epoch, key in keys.items():
        opener.add_key(epoch, key)
    for v in VECTORS["screen_frames"]:
        if v["epoch"] != sealer.epoch:
            sealer.rekey(v["epoch"], keys[v["epoch"]])
        frame = sealer.seal(v["flags"], H(v["plaintext"]))
        assert bytes(frame).hex() == v["frame"]
        assert frame.header().hex() == v["header"] == e2e.screen_header(*frame_fields(v)).hex()
        # Independent check of nonce and AAD (§4.1, §8.3).
        aad = H(v["header"]) + SID.encode()
        ct = H(v["frame"])[14:]
        nonce = struct.pack(">IQ", 1, v["seq"])
        assert AESGCM(keys[v["epoch"]]).decrypt(nonce, ct, aad).hex() == v["plaintext"]
        parsed = parse_binary(H(v["frame"]))
        assert isinstance(parsed, ScreenUpdateFrame)
        assert opener.open(parsed).hex() == v["plaintext"]


def frame_fields(v: dict[str, Any]) -> tuple[int, int, int]:
    return v["flags"], v["epoch"], v["seq"]


def test_vector_input_frames_seal_and_open() -> None:
    key = H(VECTORS["agreement"]["input_key"])
    sender = VECTORS["viewer_number"]
    sealer = InputSealer(SID, sender, key)
    opener = InputOpener(SID, sender, key)
    for v in VECTORS["input_frames"]:
        frame = sealer.seal(H(v["plaintext"]))
        assert bytes(frame).hex() == v["frame"]
        assert frame.header().hex() == v["header"] == e2e.input_header(sender, v["seq"]).hex()
        nonce = struct.pack(">IQ", 2, v["seq"])
        ct = H(v["frame"])[13:]
        assert AESGCM(key).decrypt(nonce, ct, H(v["header"]) + SID.encode()).hex() == v["plaintext"]
        parsed = parse_binary(H(v["frame"]))
        assert isinstance(parsed, InputFrame)
        assert opener.open(parsed).hex() == v["plaintext"]


@pytest.mark.parametrize("vec", VECTORS["negative"], ids=lambda v: v["name"])
def test_negative_vectors(vec: dict[str, Any]) -> None:
    """Every negative vector fails with its expected code; earlier frames open."""
    if vec["kind"] == "commitment":
        agent = AgentKeyAgreement(SID, VID)
        agent.on_commit(H(vec["commitment"]))
        with pytest.raises(E2EError) as err:
            agent.on_reveal(H(vec["viewer_public"]))
    elif vec["kind"] == "wrap":
        with pytest.raises(E2EError) as err:
            e2e.unwrap_content_key(
                H(VECTORS["agreement"]["wrap_key"]), SID, VID, vec["epoch"], H(vec["wrapped"])
            )
    else:
        frames = [parse_binary(H(f)) for f in vec["frames"]]
        opener: FrameOpener | InputOpener
        if vec["kind"] == "screen":
            opener = FrameOpener(vec.get("session_id", SID))
            for w in VECTORS["content_wraps"]:
                if w["epoch"] in vec["epochs"]:
                    opener.add_key(w["epoch"], H(w["content_key"]))
        else:
            opener = InputOpener(
                SID, VECTORS["viewer_number"], H(VECTORS["agreement"]["input_key"])
            )
        for f in frames[:-1]:
            opener.open(f)  # type: ignore[arg-type]
        before = opener.last_seq
        with pytest.raises(E2EError) as err:
            opener.open(frames[-1])  # type: ignore[arg-type]
        assert opener.last_seq == before
    assert err.value.code == vec["expect"]
    assert isinstance(err.value, ProtocolError)


# --- round trips, tampering, replay -----------------------------------------------------


def test_round_trip_random_keys_both_sides_agree() -> None:
    agent_keys, viewer_keys = _agree()
    assert agent_keys == viewer_keys
    assert len(agent_keys.verification_code) == 7
    assert agent_keys.verification_code[3] == " "
    ring = ContentKeyring()
    wrapped = ring.wrap_for_viewer(agent_keys, SID, VID)
    k = e2e.unwrap_content_key(viewer_keys.wrap_key, SID, VID, ring.epoch, wrapped)
    sealer, opener = FrameSealer(SID, ring.epoch, ring.key), FrameOpener(SID)
    opener.add_key(ring.epoch, k)
    for i in range(5):
        plain = bytes([i]) * (i * 100)
        assert opener.open(sealer.seal(i % 2, plain)) == plain
    ins = InputSealer(SID, 3, viewer_keys.input_key)
    ino = InputOpener(SID, 3, agent_keys.input_key)
    assert ino.open(ins.seal(b"\x00\x00")) == b"\x00\x00"


def test_peer_keys_repr_hides_keys() -> None:
    keys, _ = _agree()
    assert keys.wrap_key.hex() not in repr(keys)
    assert keys.input_key.hex() not in repr(keys)


def test_tampering_any_byte_of_screen_frame_fails_without_state_change() -> None:
    key = _key("content")
    sealer, opener = FrameSealer(SID, 1, key), FrameOpener(SID)
    opener.add_key(1, key)
    good = bytes(sealer.seal(1, b"screen bytes " * 3))
    for i in range(1, len(good)):  # byte 0 is the kind: another kind is another message
        bad = bytearray(good)
        bad[i] ^= 0x80 if i != 1 else 0x01  # flags may only hold FULL (media)
        with pytest.raises(ProtocolError):
            opener.open(parse_binary(bytes(bad)))  # type: ignore[arg-type]
        assert opener.last_seq == 0
    assert opener.open(parse_binary(good)) == b"screen bytes " * 3  # type: ignore[arg-type]


def test_tampering_any_byte_of_input_frame_fails_without_state_change() -> None:
    key = _key("input")
    sealer, opener = InputSealer(SID, 7, key), InputOpener(SID, 7, key)
    good = bytes(sealer.seal(b"\x00\x01\x01\x00\x05\x00\x06"))
    for i in range(1, len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x80
        with pytest.raises(ProtocolError) as err:
            opener.open(parse_binary(bytes(bad)))  # type: ignore[arg-type]
        assert err.value.code in {"decrypt_failed", "wrong_sender"}
        assert opener.last_seq == 0
    assert opener.open(parse_binary(good)) == b"\x00\x01\x01\x00\x05\x00\x06"  # type: ignore[arg-type]


def test_truncated_frames_rejected() -> None:
    key = _key("content")
    sealer, opener = FrameSealer(SID, 1, key), FrameOpener(SID)
    opener.add_key(1, key)
    good = bytes(sealer.seal(0, b"x" * 40))
    for n in range(len(good)):
        with pytest.raises(ProtocolError):
            frame = parse_binary(good[:n])
            assert isinstance(frame, ScreenUpdateFrame)
            opener.open(frame)
    # A frame object built directly with a too-short ciphertext is E2EError too.
    with pytest.raises(E2EError) as err:
        opener.open(ScreenUpdateFrame(0, 1, 1, b"short"))
    assert err.value.code == "decrypt_failed"


def test_replay_and_reorder_rejected_gaps_allowed_for_screen() -> None:
    key = _key("content")
    sealer, opener = FrameSealer(SID, 1, key), FrameOpener(SID)
    opener.add_key(1, key)
    frames = [sealer.seal(0, bytes([i])) for i in range(6)]
    assert [f.seq for f in frames] == [1, 2, 3, 4, 5, 6]
    assert opener.open(frames[0]) == b"\x00"
    assert opener.open(frames[3]) == b"\x03"  # gap 2..3: replaced updates (§6)
    for old in (frames[0], frames[1], frames[2], frames[3]):
        with pytest.raises(E2EError) as err:
            opener.open(old)
        assert err.value.code == "replayed"
    assert opener.open(frames[5]) == b"\x05"
    assert opener.last_seq == 6


def test_input_replay_and_reorder_rejected() -> None:
    key = _key("input")
    sealer, opener = InputSealer(SID, 1, key), InputOpener(SID, 1, key)
    f1, f2, f3 = (sealer.seal(b"\x00\x00") for _ in range(3))
    opener.open(f2)
    for old in (f1, f2):
        with pytest.raises(E2EError) as err:
            opener.open(old)
        assert err.value.code == "replayed"
    opener.open(f3)


def test_input_from_other_viewer_rejected() -> None:
    key = _key("input")
    frame = InputSealer(SID, 4, key).seal(b"\x00\x00")
    with pytest.raises(E2EError) as err:
        InputOpener(SID, 5, key).open(frame)
    assert err.value.code == "wrong_sender"


def test_frame_bound_to_session_id() -> None:
    key = _key("content")
    frame = FrameSealer("s-one", 1, key).seal(1, b"pixels")
    opener = FrameOpener("s-two")
    opener.add_key(1, key)
    with pytest.raises(E2EError) as err:
        opener.open(frame)
    assert err.value.code == "decrypt_failed"


def test_sealer_counter_continues_across_epochs_and_never_goes_back() -> None:
    k1, k2 = _key("e1"), _key("e2")
    sealer = FrameSealer(SID, 1, k1)
    assert sealer.seal(1, b"a").seq == 1
    sealer.rekey(2, k2)
    f = sealer.seal(1, b"b")
    assert (f.epoch, f.seq) == (2, 2)
    for epoch in (1, 2):
        with pytest.raises(E2EError):
            sealer.rekey(epoch, _key("other"))
    assert sealer.seal(0, b"c").seq == 3
    with pytest.raises(ProtocolError):
        sealer.seal(0x80, b"d")  # unknown flag: refused before the counter moves
    assert sealer.seal(0, b"e").seq == 4


def test_keyring_epochs_fresh_keys() -> None:
    ring = ContentKeyring()
    assert ring.epoch == 1
    seen = {ring.key}
    for expected in (2, 3, 4):
        assert ring.new_epoch() == expected
        assert ring.epoch == expected
        assert len(ring.key) == 32
        seen.add(ring.key)
    assert len(seen) == 4


# --- key agreement failure modes, MITM -------------------------------------------------------


def test_wrong_commitment_rejected_and_agreement_unusable() -> None:
    viewer = ViewerKeyAgreement(SID, VID)
    other = ViewerKeyAgreement(SID, VID)
    agent = AgentKeyAgreement(SID, VID)
    a = agent.on_commit(viewer.commitment)
    v_other, _ = other.reveal(a)
    with pytest.raises(E2EError) as err:
        agent.on_reveal(v_other)
    assert err.value.code == "bad_commitment"
    v, _ = viewer.reveal(a)
    with pytest.raises(E2EError) as err:
        agent.on_reveal(v)  # no second try against the same A
    assert err.value.code == "wrong_state"


def test_agreement_steps_out_of_order() -> None:
    agent = AgentKeyAgreement(SID, VID)
    with pytest.raises(E2EError):
        agent.on_reveal(bytes(32))
    agent.on_commit(bytes(32))
    with pytest.raises(E2EError):
        agent.on_commit(bytes(32))
    with pytest.raises(E2EError):
        AgentKeyAgreement(SID, VID).on_commit(b"short")
    viewer = ViewerKeyAgreement(SID, VID)
    viewer.reveal(agent.public_key)
    with pytest.raises(E2EError):
        viewer.reveal(agent.public_key)


def test_agent_uses_fresh_key_per_viewer() -> None:
    assert AgentKeyAgreement(SID, "v1").public_key != AgentKeyAgreement(SID, "v2").public_key


def test_low_order_public_key_rejected() -> None:
    viewer = ViewerKeyAgreement(SID, VID)
    with pytest.raises(E2EError) as err:
        viewer.reveal(bytes(32))
    assert err.value.code == "bad_key"
    zero = bytes(32)
    agent = AgentKeyAgreement(SID, VID)
    agent.on_commit(hashlib.sha256(zero).digest())
    with pytest.raises(E2EError) as err:
        agent.on_reveal(zero)
    assert err.value.code == "bad_key"


def test_mitm_broker_swapping_keys_gets_different_codes() -> None:
    """A broker that runs one agreement with each side cannot make the codes match."""
    viewer = ViewerKeyAgreement(SID, VID, private_key=_key("viewer"))
    agent = AgentKeyAgreement(SID, VID, private_key=_key("agent"))
    # Mallory plays viewer towards the agent and agent towards the viewer.
    m_viewer = ViewerKeyAgreement(SID, VID, private_key=_key("mallory v"))
    m_agent = AgentKeyAgreement(SID, VID, private_key=_key("mallory a"))
    m_agent.on_commit(viewer.commitment)  # the viewer's key.commit, intercepted
    a = agent.on_commit(m_viewer.commitment)  # Mallory's own commitment to the agent
    v, viewer_keys = viewer.reveal(m_agent.public_key)  # viewer sees Mallory's A
    mallory_to_viewer = m_agent.on_reveal(v)
    m_v, mallory_to_agent = m_viewer.reveal(a)
    agent_keys = agent.on_reveal(m_v)
    # Mallory holds keys for each leg, but the two people compare codes and see a mismatch.
    assert mallory_to_viewer == viewer_keys
    assert mallory_to_agent == agent_keys
    assert agent_keys.verification_code != viewer_keys.verification_code
    assert agent_keys.wrap_key != viewer_keys.wrap_key


def test_mitm_substituting_only_agent_key_changes_codes() -> None:
    viewer = ViewerKeyAgreement(SID, VID, private_key=_key("viewer"))
    agent = AgentKeyAgreement(SID, VID, private_key=_key("agent"))
    agent.on_commit(viewer.commitment)
    _, viewer_keys = viewer.reveal(_pub(_key("mallory")))
    agent_keys = agent.on_reveal(viewer.public_key)
    assert agent_keys.verification_code != viewer_keys.verification_code


def test_honest_relay_gets_same_code_and_ids_bind() -> None:
    agent_keys, viewer_keys = _agree(agent_key=_key("agent"), viewer_key=_key("viewer"))
    assert agent_keys.verification_code == viewer_keys.verification_code
    other_sid, _ = _agree("s-other", VID, _key("agent"), _key("viewer"))
    other_vid, _ = _agree(SID, "v4", _key("agent"), _key("viewer"))
    assert len({agent_keys.wrap_key, other_sid.wrap_key, other_vid.wrap_key}) == 3


# --- epochs: removed viewers --------------------------------------------------------------------


def test_viewer_removed_at_new_epoch_cannot_decrypt_later_frames() -> None:
    ring = ContentKeyring()
    a1, v1 = _agree(SID, "v1")
    a2, v2 = _agree(SID, "v2")
    openers = {}
    for vid, agent_keys, viewer_keys in (("v1", a1, v1), ("v2", a2, v2)):
        wrapped = ring.wrap_for_viewer(agent_keys, SID, vid)
        op = FrameOpener(SID)
        op.add_key(ring.epoch, e2e.unwrap_content_key(viewer_keys.wrap_key, SID, vid, 1, wrapped))
        openers[vid] = op
    sealer = FrameSealer(SID, ring.epoch, ring.key)
    f1 = sealer.seal(1, b"both see this")
    assert openers["v1"].open(f1) == openers["v2"].open(f1) == b"both see this"

    old_key = ring.key
    ring.new_epoch()  # v2 left: only v1 gets the new key
    sealer.rekey(ring.epoch, ring.key)
    wrapped = ring.wrap_for_viewer(a1, SID, "v1")
    openers["v1"].add_key(2, e2e.unwrap_content_key(v1.wrap_key, SID, "v1", 2, wrapped))
    f2 = sealer.seal(1, b"only v1 sees this")
    assert openers["v1"].open(f2) == b"only v1 sees this"
    with pytest.raises(E2EError) as err:
        openers["v2"].open(f2)
    assert err.value.code == "unknown_epoch"
    # Even relabelling its old key as epoch 2, or unwrapping v1's wrap, fails.
    openers["v2"].add_key(2, old_key)
    with pytest.raises(E2EError) as err:
        openers["v2"].open(f2)
    assert err.value.code == "decrypt_failed"
    with pytest.raises(E2EError):
        e2e.unwrap_content_key(v2.wrap_key, SID, "v2", 2, wrapped)
    with pytest.raises(E2EError):
        e2e.unwrap_content_key(v2.wrap_key, SID, "v1", 2, wrapped)


def test_opener_forgets_older_epochs() -> None:
    k1, k2 = _key("e1"), _key("e2")
    sealer = FrameSealer(SID, 1, k1)
    f1 = sealer.seal(1, b"a")
    sealer.rekey(2, k2)
    f2 = sealer.seal(1, b"b")
    opener = FrameOpener(SID)
    opener.add_key(1, k1)
    opener.add_key(2, k2)
    opener.open(f2)
    with pytest.raises(E2EError) as err:
        opener.open(f1)
    assert err.value.code == "replayed"
    with pytest.raises(E2EError):
        opener.add_key(1, k1)


# --- audit recipient -------------------------------------------------------------------------------


def test_audit_wrap_round_trip_with_public_key_object() -> None:
    recipient = X25519PrivateKey.generate()
    ring = ContentKeyring()
    w = e2e.wrap_for_audit_key(recipient.public_key(), SID, ring.epoch, ring.key)
    assert (w.epoch, len(w.wrapped_key), len(w.ephemeral_public)) == (1, 48, 32)
    assert e2e.unwrap_for_audit(recipient, SID, 1, w.ephemeral_public, w.wrapped_key) == ring.key
    w2 = ring.wrap_for_audit(
        recipient.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ),
        SID,
    )
    assert w2.ephemeral_public != w.ephemeral_public  # fresh ephemeral per wrap
    for args in (
        (X25519PrivateKey.generate(), SID, 1, w.ephemeral_public, w.wrapped_key),
        (recipient, "s-other", 1, w.ephemeral_public, w.wrapped_key),
        (recipient, SID, 2, w.ephemeral_public, w.wrapped_key),
        (recipient, SID, 1, w2.ephemeral_public, w.wrapped_key),
    ):
        with pytest.raises(E2EError) as err:
            e2e.unwrap_for_audit(*args)  # type: ignore[arg-type]
        assert err.value.code == "decrypt_failed"


# --- properties ------------------------------------------------------------------------------------

_OPEN_KEY = _key("property")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_opening_random_bytes_raises_only_protocol_errors(data: bytes) -> None:
    screen = FrameOpener(SID)
    screen.add_key(1, _OPEN_KEY)
    inputs = InputOpener(SID, 1, _OPEN_KEY)
    for raw in (data, b"\x01" + data, b"\x02" + data):
        try:
            frame = parse_binary(raw)
        except ProtocolError:
            continue
        with pytest.raises(ProtocolError):
            if isinstance(frame, ScreenUpdateFrame):
                screen.open(frame)
            elif isinstance(frame, InputFrame):
                inputs.open(frame)
            else:
                raise ProtocolError("not_sealed", "not a sealed kind")
    assert screen.last_seq == inputs.last_seq == 0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 1),
    st.integers(1, 2**32 - 1),
    st.integers(1, 2**64 - 1),
    st.binary(max_size=64),
)
def test_forged_screen_frames_raise_e2e_error(flags: int, epoch: int, seq: int, ct: bytes) -> None:
    opener = FrameOpener(SID)
    opener.add_key(epoch, _OPEN_KEY)
    with pytest.raises(E2EError):
        opener.open(ScreenUpdateFrame(flags, epoch, seq, ct))


def test_viewer_number() -> None:
    assert e2e.viewer_number("v3") == 3
    assert e2e.viewer_number("v4294967295") == 2**32 - 1
    for bad in ("3", "v", "v-1", "vx", "v03", "v4294967296", "v٣", "V3"):
        with pytest.raises(E2EError):
            e2e.viewer_number(bad)


def test_package_is_sans_io() -> None:
    for path in Path(e2e.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            (n.module or "").split(".")[0]
            if isinstance(n, ast.ImportFrom)
            else a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
        assert imported <= {
            "__future__",
            "cryptography",
            "protocol",
            "dataclasses",
            "typing",
            "hashlib",
            "hmac",
            "os",
            "struct",
        }, (path, imported)
