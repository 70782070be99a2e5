"""``clearpane audit export / verify / reviewer-key`` through the real dispatcher."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from audit.bundle import LOG, rewrite_member
from audit.testing import write_session_log
from certs.bootstrap import ensure_broker_pki
from cli.main import main as clearpane


def test_export_then_verify_then_tamper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    pki = ensure_broker_pki(data, ["localhost"], ["127.0.0.1"], None)
    write_session_log(data, "s-1", pki.signing_key)
    out = tmp_path / "s-1.zip"
    assert clearpane(["audit", "export", "s-1", "--data-dir", str(data), "-o", str(out)]) == 0
    assert clearpane(["audit", "verify", str(out), "--ca", str(pki.ca_cert_path)]) == 0
    text = capsys.readouterr().out
    assert "VALID: session s-1: 11 records, sealed at seq 11" in text
    # the export is itself recorded, signed, and inside the bundle it wrote
    assert "review log: 1 record(s), verified" in text
    review = (data / "sessions" / "s-1" / "review.jsonl").read_text().splitlines()
    assert [json.loads(x)["event"] for x in review] == ["log.exported"]
    assert (data / "sessions" / "s-1" / "review-checkpoints.jsonl").read_text().count("\n") == 1

    with zipfile.ZipFile(out) as zf:
        lines = zf.read(LOG).splitlines()
    rec = json.loads(lines[1])
    rec["actor"] = "user:mallory"
    lines[1] = json.dumps(rec).encode()
    rewrite_member(out, LOG, b"\n".join(lines) + b"\n")
    assert clearpane(["audit", "verify", str(out)]) == 1
    text = capsys.readouterr().out
    assert text.startswith("INVALID")
    assert "log.jsonl line 2 (seq 2): edited" in text


def test_verify_of_something_else_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.zip"
    bad.write_text("not a zip")
    assert clearpane(["audit", "verify", str(bad)]) == 2
    assert "not a readable bundle" in capsys.readouterr().err


def test_reviewer_key_exports_the_audit_recipient_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    from certs.keys import load_certificate
    from certs.verify import fingerprint

    data = tmp_path / "data"
    pki = ensure_broker_pki(data, ["localhost"], ["127.0.0.1"], None)
    out = tmp_path / "audit-key.json"
    assert clearpane(["audit", "reviewer-key", "--data-dir", str(data), "-o", str(out)]) == 0
    assert out.stat().st_mode & 0o077 == 0
    doc = json.loads(out.read_text())
    cert = load_certificate(pki.audit_cert_path)
    assert doc["type"] == "clearpane-audit-key"
    assert doc["fingerprint"] == fingerprint(cert)
    import base64

    raw = base64.urlsafe_b64decode(doc["x25519_private"] + "=")
    key = x25519.X25519PrivateKey.from_private_bytes(raw)
    public = cert.public_key()
    assert isinstance(public, x25519.X25519PublicKey)
    assert key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_verify_classifies_the_clients_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The agent's session folder as the client copy: a true prefix is VALID and says so
    (with the broker's later records); a record deleted from the middle is a named gap."""
    data = tmp_path / "data"
    pki = ensure_broker_pki(data, ["localhost"], ["127.0.0.1"], None)
    folder = write_session_log(data, "s-2", pki.signing_key)
    agent = tmp_path / "agent-session"
    agent.mkdir()
    lines = (folder / LOG).read_bytes().splitlines(keepends=True)
    (agent / "broker.jsonl").write_bytes(b"".join(lines[:8]))
    cps = (folder / "checkpoints.jsonl").read_text().splitlines()
    (agent / "checkpoint.json").write_text(cps[1])  # the one at seq 8
    out = tmp_path / "s-2.zip"
    args = ["audit", "export", "s-2", "--data-dir", str(data), "-o", str(out)]
    assert clearpane([*args, "--client-copy", str(agent)]) == 0
    capsys.readouterr()
    assert clearpane(["audit", "verify", str(out), "--ca", str(pki.ca_cert_path)]) == 0
    text = capsys.readouterr().out
    assert "client copy: a complete prefix ending at seq 8" in text
    assert "later: seq 9 session.resumed at " in text
    assert "covered by the signed checkpoint at seq 11" in text
    assert "not evidence of tampering" in text

    (agent / "broker.jsonl").write_bytes(b"".join(lines[:3] + lines[4:]))
    assert clearpane(["audit", "verify", str(out), "--client-copy", str(agent)]) == 1
    text = capsys.readouterr().out
    assert "client.jsonl (seq 4): missing: seq 4 absent" in text
    assert "client copy: gap: the client copy lacks seq 4" in text
