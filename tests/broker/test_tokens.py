"""TokenService: EdDSA JWTs with kid, types, expiry on the injected clock, rotation."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt
import pytest

from broker.auth.tokens import AuthError, TokenService
from broker.testing import FakeClock


def _service(tmp_path: Path, clock: FakeClock) -> TokenService:
    return TokenService.load(
        tmp_path / "jwt", clock, max_ttl_s=3600, rotate_after_s=86400, default_ttl_s={"access": 600}
    )


def test_issue_and_verify_access(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    token = tokens.issue("u1", "engineer", "access", ttl_s=60)
    claims = tokens.verify(token, "access")
    assert (claims.sub, claims.role, claims.typ, claims.sid) == ("u1", "engineer", "access", None)
    assert jwt.get_unverified_header(token) == {
        "alg": "EdDSA",
        "kid": tokens.current_kid,
        "typ": "JWT",
    }


def test_viewer_token_carries_session_and_perms(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    token = tokens.issue(
        "u1",
        "engineer",
        "viewer",
        session_id="s1",
        extra={"as": "engineer", "perms": ["view", "control"]},
    )
    claims = tokens.verify(token, "viewer")
    assert claims.sid == "s1" and claims.as_ == "engineer" and claims.perms == ("view", "control")


def test_session_tokens_need_a_session(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    with pytest.raises(ValueError):
        tokens.issue("a", "agent", "agent")
    with pytest.raises(ValueError):
        tokens.issue("a", "agent", "agent", session_id="s", extra={"sid": "other"})


def test_expired_token_rejected(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    token = tokens.issue("u1", "engineer", "access", ttl_s=60)
    clock.advance(59)
    tokens.verify(token, "access")
    clock.advance(1)
    with pytest.raises(AuthError, match="expired"):
        tokens.verify(token, "access")


def test_wrong_type_rejected(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    token = tokens.issue("a", "agent", "agent", session_id="s1")
    with pytest.raises(AuthError, match="access token is required"):
        tokens.verify(token, "access")


def test_forged_with_other_key_same_kid_rejected(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    other = TokenService.ephemeral(clock)
    # Sign with another key but claim the real key's id.
    forged = jwt.encode(
        {
            "iss": "clearpane-broker",
            "sub": "u1",
            "role": "admin",
            "typ": "access",
            "iat": 1,
            "exp": 2**40,
            "jti": "x",
        },
        other._keys[other.current_kid].private,
        algorithm="EdDSA",
        headers={"kid": tokens.current_kid},
    )
    with pytest.raises(AuthError, match="invalid token"):
        tokens.verify(forged, "access")


def test_unknown_kid_rejected(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    other = TokenService.ephemeral(clock)
    with pytest.raises(AuthError, match="unknown key"):
        tokens.verify(other.issue("u1", "admin", "access", ttl_s=60), "access")


def test_alg_none_and_garbage_rejected(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "kid": tokens.current_kid}).encode()
    ).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps({"sub": "u1", "typ": "access"}).encode()).rstrip(
        b"="
    )
    with pytest.raises(AuthError):
        tokens.verify((header + b"." + body + b".").decode(), "access")
    with pytest.raises(AuthError, match="malformed"):
        tokens.verify("not-a-jwt", "access")


def test_rotation_keeps_old_keys_until_their_tokens_expire(
    tmp_path: Path, clock: FakeClock
) -> None:
    tokens = _service(tmp_path, clock)
    old_kid = tokens.current_kid
    old_token = tokens.issue("u1", "engineer", "access", ttl_s=3600)
    new_kid = tokens.rotate()
    assert new_kid != old_kid
    assert jwt.get_unverified_header(tokens.issue("u1", "engineer", "access"))["kid"] == new_kid
    # A restart loads both keys; the old token still verifies.
    reloaded = _service(tmp_path, clock)
    assert reloaded.current_kid == new_kid
    assert reloaded.verify(old_token, "access").sub == "u1"
    # Once nothing it signed can still be valid, the old key is dropped from disk.
    clock.advance(3601)
    pruned = _service(tmp_path, clock)
    assert old_kid not in pruned.kids and new_kid in pruned.kids
    assert not (tmp_path / "jwt" / f"{old_kid}.pem").exists()


def test_key_file_is_private(tmp_path: Path, clock: FakeClock) -> None:
    tokens = _service(tmp_path, clock)
    mode = (tmp_path / "jwt" / f"{tokens.current_kid}.pem").stat().st_mode & 0o777
    assert mode == 0o600


def test_rotates_when_key_is_old(tmp_path: Path, clock: FakeClock) -> None:
    first = _service(tmp_path, clock).current_kid
    clock.advance(86401)
    assert _service(tmp_path, clock).current_kid != first


def test_a_key_rotated_by_another_node_verifies_here(tmp_path: Path, clock: FakeClock) -> None:
    """Nodes share the keyring on shared storage: a node that restarted and rotated
    signs with a key the others learn on first sight (reading at most once a second)."""
    node1 = _service(tmp_path, clock)
    clock.advance(86401)
    node2 = _service(tmp_path, clock)  # restarted after the rotation period: new key
    assert node2.current_kid != node1.current_kid
    token = node2.issue("u1", "engineer", "access", ttl_s=60)
    assert node1.verify(token, "access").sub == "u1"
    assert node2.verify(node1.issue("u2", "engineer", "access", ttl_s=60), "access").sub == "u2"
    forged = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": "nope"})
    with pytest.raises(AuthError, match="unknown key"):
        node1.verify(forged, "access")


def test_nodes_starting_together_share_one_keyring(tmp_path: Path) -> None:
    """Three processes load an empty key folder at once: one key, known to all."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom pathlib import Path\n"
        "from broker.auth.tokens import TokenService\nfrom broker.testing import FakeClock\n"
        "t = TokenService.load(Path(sys.argv[1]), FakeClock(0), max_ttl_s=60, rotate_after_s=60)\n"
        "print(t.current_kid)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "jwt")],
            stdout=subprocess.PIPE,
            text=True,
            env={**__import__("os").environ, "PYTHONPATH": str(Path.cwd())},
        )
        for _ in range(3)
    ]
    kids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(kids) == 1 and "" not in kids
