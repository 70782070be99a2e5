"""``clearpane certs``: the admin's commands end to end, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.jsonl import load_records
from certs.keys import load_certificates, load_private_key
from certs.verify import verify_client_chain, verify_server_chain
from cli.certs import main
from cli.main import main as clearpane

ENV = {"CLEARPANE_CA_PASSPHRASE": "correct horse battery staple"}


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> int:
    return main(["--data-dir", str(tmp_path / "data"), *args], environ=ENV if env is None else env)


def files(tmp_path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_admin_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "init", "--organization", "Acme") == 0
    assert "move it offline" in capsys.readouterr().out
    out = tmp_path / "out"
    pw_file = tmp_path / "key-pw"
    pw_file.write_text("a key passphrase\n")
    args = ["issue", "client", "laptop-7", "--out", str(out), "--days", "30"]
    assert run(tmp_path, *args, "--key-passphrase-file", str(pw_file)) == 0
    assert run(tmp_path, "issue", "server", "--dns", "node2.acme.test", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "key passphrase (shown once)" in printed  # the server key's, generated
    roots = load_certificates(out / "ca.pem")
    chain = load_certificates(out / "laptop-7.pem")
    verify_client_chain(chain[0], chain[1:], roots)
    load_private_key(out / "laptop-7.key", b"a key passphrase")
    server = load_certificates(out / "node2.acme.test.pem")
    verify_server_chain(server[0], server[1:], roots, "node2.acme.test")

    assert run(tmp_path, "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert {c["profile"] for c in listed} == {"client", "server"}
    serial = next(c["serial"] for c in listed if c["profile"] == "client")
    assert run(tmp_path, "revoke", serial, "--reason", "key-compromise") == 0
    assert run(tmp_path, "list") == 0
    table = capsys.readouterr().out
    assert "revoked" in table and "urn:clearpane:agent:laptop-7" in table

    enroll = tmp_path / "enroll.json"
    assert run(tmp_path, "enroll", "--broker-url", "https://b.acme.test", "--out", str(enroll)) == 0
    assert json.loads(enroll.read_text())["broker_url"] == "https://b.acme.test"
    events = [r.event for r in load_records(tmp_path / "data" / "ca" / "audit.jsonl")]
    assert events == [
        "ca.initialized",
        "cert.issued",
        "cert.issued",
        "cert.revoked",
        "enrollment.created",
    ]
    assert all(
        r.actor.startswith("cli:") for r in load_records(tmp_path / "data" / "ca" / "audit.jsonl")
    )


def test_errors_are_clear_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "list") == 1
    assert "certs init" in capsys.readouterr().err
    assert run(tmp_path, "init", env={}) == 1
    assert "passphrase" in capsys.readouterr().err
    assert run(tmp_path, "init") == 0
    out = str(tmp_path / "out")
    serial_args = ["issue", "client", "laptop", "--out", out]
    assert run(tmp_path, *serial_args) == 0
    capsys.readouterr()
    before = files(tmp_path)
    cases = [
        (["init"], 1, "already exists"),
        ([*serial_args], 1, "refusing to overwrite"),
        (["issue", "client", "bad name", "--out", out], 1, "invalid client name"),
        (["issue", "server", "--dns", "bad_name!", "--out", out], 1, "invalid DNS name"),
        (["issue", "server", "--ip", "1.2.3", "--out", out], 1, "invalid IP"),
        (["issue", "client", "x", "--days", "0", "--out", out], 2, "certificates always expire"),
        (["issue", "client", "x", "--days", "never", "--out", out], 2, "always expire"),
        (["issue", "client", "x", "--days", "4000", "--out", out], 1, "lifetime"),
        (["revoke", "abcdef"], 1, "no certificate with serial"),
        (["revoke", "zz!"], 1, "not a certificate serial"),
        (["rotate", "finish"], 1, "rotate reissue"),
        (["enroll", "--broker-url", "http://x", "--out", str(tmp_path / "e.json")], 1, "https://"),
    ]
    for args, code, message in cases:
        assert run(tmp_path, *args) == code, args
        assert message in capsys.readouterr().err, args
    wrong = {"CLEARPANE_CA_PASSPHRASE": "not the passphrase"}
    assert run(tmp_path, "issue", "client", "y", "--out", out, env=wrong) == 1
    assert "wrong passphrase" in capsys.readouterr().err
    assert files(tmp_path) == before
    serial = json.loads((run(tmp_path, "list", "--json"), capsys.readouterr().out)[1])[0]["serial"]
    assert run(tmp_path, "revoke", serial) == 0
    capsys.readouterr()
    before = files(tmp_path)
    assert run(tmp_path, "revoke", serial) == 1
    assert "already revoked" in capsys.readouterr().err
    assert files(tmp_path) == before


def test_rotation_commands_and_offline_root_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from certs.bootstrap import ensure_broker_pki

    ensure_broker_pki(
        tmp_path / "data", ["localhost"], ["127.0.0.1"], ENV["CLEARPANE_CA_PASSPHRASE"].encode()
    )
    root_key = tmp_path / "data" / "ca" / "root.key"
    offline = tmp_path / "usb-root.key"
    root_key.rename(offline)
    assert run(tmp_path, "rotate", "begin") == 1
    assert "--root-key" in capsys.readouterr().err
    assert run(tmp_path, "rotate", "begin", "--root-key", str(offline)) == 0
    assert "trusting" in capsys.readouterr().out
    assert run(tmp_path, "rotate", "reissue") == 0
    assert run(tmp_path, "rotate", "status") == 0
    assert "reissued" in capsys.readouterr().out
    assert run(tmp_path, "rotate", "finish") == 0
    assert run(tmp_path, "rotate", "status") == 0
    assert "no rotation in progress" in capsys.readouterr().out
    # The broker starts on the rotated CA and its chain verifies against the new root.
    pki = ensure_broker_pki(
        tmp_path / "data", ["localhost"], ["127.0.0.1"], ENV["CLEARPANE_CA_PASSPHRASE"].encode()
    )
    chain = load_certificates(pki.server_cert_path)
    verify_server_chain(chain[0], chain[1:], load_certificates(pki.ca_cert_path), "localhost")
    assert any((tmp_path / "data" / "ca" / "retired").iterdir())


def test_dispatcher_routes_certs(capsys: pytest.CaptureFixture[str]) -> None:
    assert clearpane(["certs", "--help"]) == 0
    assert "rotate" in capsys.readouterr().out
