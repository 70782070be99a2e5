"""Issue 14, item 12: keys where they belong — `certs init --offline-root` leaves no root
key on the broker host; `certs audit-key request` makes the audit key on a reviewer's
machine and `certs audit-key sign` certifies only its public half; `certs move-keys`
migrates an existing data dir. The broker then starts and serves that recipient, and a
recording's key wrapped for it opens with the reviewer's key file (what the replay page
does)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from certs.bootstrap import ensure_broker_pki
from certs.keys import load_certificates
from certs.verify import verify_audit_recipient
from cli.certs import main
from protocol.e2e.keys import unwrap_for_audit, wrap_for_audit_key

PASS = "correct horse battery staple"
ENV = {"CLEARPANE_CA_PASSPHRASE": PASS}


def run(data: Path, *args: str) -> int:
    return main(["--data-dir", str(data), *args], environ=ENV)


def _reviewer_private(key_file: Path) -> x25519.X25519PrivateKey:
    doc = json.loads(key_file.read_text())
    assert doc["type"] == "clearpane-audit-key"  # the replay page's format
    raw = base64.urlsafe_b64decode(doc["x25519_private"] + "=" * (-len(doc["x25519_private"]) % 4))
    return x25519.X25519PrivateKey.from_private_bytes(raw)


def _recording_opens_with(data: Path, key_file: Path) -> bool:
    """The agent's side: verify the broker's recipient, wrap a content key for it; the
    reviewer's side: unwrap it with the key file."""
    pki = ensure_broker_pki(data, ["localhost"], ["127.0.0.1"], PASS.encode())
    chain = load_certificates(pki.audit_cert_path)
    roots = load_certificates(pki.ca_cert_path)
    public = verify_audit_recipient(chain[0], chain[1:], roots).public_key
    assert isinstance(public, x25519.X25519PublicKey)
    content_key = os.urandom(32)
    wrap = wrap_for_audit_key(public, "s-1", 1, content_key)
    opened = unwrap_for_audit(
        _reviewer_private(key_file), "s-1", 1, wrap.ephemeral_public, wrap.wrapped_key
    )
    return opened == content_key


def test_offline_root_and_audit_key_made_by_the_reviewer(tmp_path: Path) -> None:
    data, usb, laptop = tmp_path / "data", tmp_path / "usb", tmp_path / "reviewer"
    laptop.mkdir()
    assert run(data, "init", "--offline-root", str(usb)) == 0
    assert not (data / "ca" / "root.key").exists() and (usb / "root.key").exists()
    key_file, request = laptop / "audit-key.json", laptop / "audit-request.json"
    assert main(["audit-key", "request", "--key-out", str(key_file),
                 "--request-out", str(request)], environ={}) == 0  # fmt: skip
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert "private" not in request.read_text()
    assert run(data, "audit-key", "sign", str(request)) == 0
    assert run(data, "issue", "audit-recipient") == 0  # a renewal keeps the reviewers' key
    # The broker starts with the online intermediate only, and makes no audit key.
    assert _recording_opens_with(data, key_file)
    assert not (data / "ca" / "audit.key").exists()
    assert not (data / "ca" / "root.key").exists()
    leftovers = [p.name for p in (data / "ca").iterdir() if p.suffix == ".key"]
    assert sorted(leftovers) == ["checkpoint.key", "issuing.key", "server.key"]


def test_sign_refuses_to_drop_an_old_audit_key_silently(tmp_path: Path) -> None:
    data, laptop = tmp_path / "data", tmp_path / "reviewer"
    laptop.mkdir()
    ensure_broker_pki(data, ["localhost"], ["127.0.0.1"], PASS.encode())  # an old data dir
    old_key = tmp_path / "old-audit-key.json"
    key_file, request = laptop / "k.json", laptop / "r.json"
    assert main(["audit-key", "request", "--key-out", str(key_file),
                 "--request-out", str(request)], environ={}) == 0  # fmt: skip
    assert run(data, "audit-key", "sign", str(request)) != 0  # audit.key still there
    assert (data / "ca" / "audit.key").exists()
    assert run(data, "audit-key", "sign", str(request), "--old-key-to", str(old_key)) == 0
    assert not (data / "ca" / "audit.key").exists() and old_key.exists()
    assert _recording_opens_with(data, key_file)


def test_migration_moves_an_existing_data_dirs_private_keys_out(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "offline"
    ensure_broker_pki(data, ["localhost"], ["127.0.0.1"], PASS.encode())
    assert run(data, "move-keys", "--to", str(out)) == 0
    assert not (data / "ca" / "audit.key").exists() and not (data / "ca" / "root.key").exists()
    assert (out / "root.key").exists()
    # The old recordings' key went out as a reviewer key file, and the broker (no audit
    # key, no root key) still starts and keeps the same recipient.
    assert _recording_opens_with(data, out / "audit-reviewer-key.json")


@pytest.mark.parametrize("bad", ['{"type": "x"}', "not json"])
def test_a_malformed_request_is_refused(tmp_path: Path, bad: str) -> None:
    data = tmp_path / "data"
    assert run(data, "init") == 0
    request = tmp_path / "r.json"
    request.write_text(bad)
    assert run(data, "audit-key", "sign", str(request)) != 0


def test_ca_rotation_keeps_the_reviewers_audit_key(tmp_path: Path) -> None:
    data, usb, laptop = tmp_path / "data", tmp_path / "usb", tmp_path / "reviewer"
    laptop.mkdir()
    assert run(data, "init", "--offline-root", str(usb)) == 0
    key_file, request = laptop / "k.json", laptop / "r.json"
    assert main(["audit-key", "request", "--key-out", str(key_file),
                 "--request-out", str(request)], environ={}) == 0  # fmt: skip
    assert run(data, "audit-key", "sign", str(request)) == 0
    assert _recording_opens_with(data, key_file)  # the broker has started once
    assert run(data, "rotate", "begin", "--root-key", str(usb / "root.key")) == 0
    assert run(data, "rotate", "reissue", "--new-keys") == 0
    assert not (data / "ca" / "audit.key").exists()  # new keys, but not the reviewers'
    assert run(data, "rotate", "finish") == 0
    assert _recording_opens_with(data, key_file)
