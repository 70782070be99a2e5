"""ensure_broker_pki: first start, later starts, renewals, files at rest, TLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.bootstrap import (
    PASSPHRASE_ENV,
    BrokerPki,
    ensure_broker_pki,
    load_issuing_ca,
    passphrase_from_env,
)
from certs.errors import KeyFileError, PassphraseError
from certs.keys import load_certificates, load_private_key
from certs.testing import fixed_clock
from certs.verify import (
    verify_audit_recipient,
    verify_checkpoint_signer,
    verify_client_chain,
    verify_server_chain,
)

PW = b"correct horse battery staple"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(ca_dir: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(ca_dir.iterdir())
        if p.is_file() and p.name != ".lock"
    }


def test_first_start_creates_a_verifiable_pki(tmp_path: Path) -> None:
    pki = ensure_broker_pki(tmp_path, ["localhost"], ["127.0.0.1"], PW)
    assert pki.ca_dir == tmp_path / "ca"
    assert mode(pki.ca_dir) == 0o700
    root = load_certificates(pki.ca_cert_path)
    assert len(root) == 1
    chain = load_certificates(pki.server_cert_path)
    assert len(chain) == 2  # leaf + intermediate: what ssl presents
    verify_server_chain(chain[0], chain[1:], root, "localhost")
    verify_server_chain(chain[0], chain[1:], root, "127.0.0.1")
    audit = load_certificates(pki.audit_cert_path)
    verify_audit_recipient(audit[0], audit[1:], root)
    signer = load_certificates(pki.signing_cert_path)
    got = verify_checkpoint_signer(signer[0], signer[1:], root)
    assert got.public_key == pki.signing_key.public_key()
    assert pki.signing_key_id.startswith("ed25519:") and len(pki.signing_key_id) == 24
    assert pki.ca_pem().startswith("-----BEGIN CERTIFICATE-----")
    assert "BEGIN CERTIFICATE" in pki.audit_recipient_pem()
    assert not (pki.ca_dir / "passphrase").exists()  # a passphrase was given


def test_private_keys_encrypted_and_0600(tmp_path: Path) -> None:
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], PW)
    for name in ("root.key", "issuing.key", "audit.key", "checkpoint.key"):
        path = pki.ca_dir / name
        assert mode(path) == 0o600, name
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), name
        with pytest.raises(KeyFileError):
            load_private_key(path, None)
        with pytest.raises(PassphraseError):
            load_private_key(path, b"wrong")
        load_private_key(path, PW)
    # The TLS leaf key is plain (ssl loads it) but readable by the owner only.
    assert mode(pki.server_key_path) == 0o600
    assert pki.server_key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    for name in ("root.pem", "issuing.pem", "server.pem", "audit.pem", "checkpoint.pem"):
        assert mode(pki.ca_dir / name) == 0o644


def test_second_start_loads_and_changes_nothing(tmp_path: Path) -> None:
    first = ensure_broker_pki(tmp_path, ["localhost"], ["127.0.0.1"], PW)
    before = snapshot(first.ca_dir)
    second = ensure_broker_pki(tmp_path, ["LOCALHOST."], ["127.0.0.1"], PW)
    assert snapshot(second.ca_dir) == before
    assert second.signing_key_id == first.signing_key_id
    raw = serialization.Encoding.Raw, serialization.PrivateFormat.Raw
    assert second.signing_key.private_bytes(
        *raw, serialization.NoEncryption()
    ) == first.signing_key.private_bytes(*raw, serialization.NoEncryption())


def test_hostname_change_reissues_only_the_server_cert(tmp_path: Path) -> None:
    ensure_broker_pki(tmp_path, ["localhost"], ["127.0.0.1"], PW)
    before = snapshot(tmp_path / "ca")
    pki = ensure_broker_pki(tmp_path, ["localhost", "broker.example"], ["127.0.0.1"], PW)
    after = snapshot(pki.ca_dir)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"server.pem", "server.key"}
    leaf = load_certificates(pki.server_cert_path)[0]
    root = load_certificates(pki.ca_cert_path)
    verify_server_chain(leaf, load_certificates(pki.server_cert_path)[1:], root, "broker.example")


def test_server_cert_renewed_within_30_days_of_expiry(tmp_path: Path) -> None:
    ensure_broker_pki(tmp_path, ["localhost"], [], PW)
    before = snapshot(tmp_path / "ca")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=59)
    ensure_broker_pki(tmp_path, ["localhost"], [], PW, clock=fixed_clock(later))
    assert snapshot(tmp_path / "ca") == before  # 31 days left: kept
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=61)
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], PW, clock=fixed_clock(later))
    after = snapshot(pki.ca_dir)
    assert {n for n in after if after[n] != before[n]} == {"server.pem", "server.key"}
    leaf = load_certificates(pki.server_cert_path)[0]
    assert leaf.not_valid_after_utc > later + dt.timedelta(days=89)


def test_audit_cert_renewal_keeps_its_key(tmp_path: Path) -> None:
    first = ensure_broker_pki(tmp_path, ["localhost"], [], PW)
    key_before = first.audit_key_path.read_bytes()
    cert_before = load_certificates(first.audit_cert_path)[0]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=340)
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], PW, clock=fixed_clock(later))
    cert_after = load_certificates(pki.audit_cert_path)[0]
    assert pki.audit_key_path.read_bytes() == key_before
    assert cert_after.serial_number != cert_before.serial_number
    assert cert_after.public_key() == cert_before.public_key()
    assert pki.signing_key_id == first.signing_key_id


def test_generated_passphrase_is_kept_0600(tmp_path: Path) -> None:
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], None)
    pw_file = pki.ca_dir / "passphrase"
    assert mode(pw_file) == 0o600
    secret = pw_file.read_bytes().strip()
    assert len(secret) >= 32
    load_private_key(pki.ca_dir / "root.key", secret)
    before = snapshot(pki.ca_dir)
    ensure_broker_pki(tmp_path, ["localhost"], [], None)  # reads the file again
    assert snapshot(pki.ca_dir) == before


def test_wrong_or_missing_passphrase_is_refused(tmp_path: Path) -> None:
    ensure_broker_pki(tmp_path, ["localhost"], [], PW)
    with pytest.raises(PassphraseError):
        ensure_broker_pki(tmp_path, ["localhost"], [], b"not it")
    with pytest.raises(KeyFileError, match=PASSPHRASE_ENV):
        ensure_broker_pki(tmp_path, ["localhost"], [], None)


def test_too_open_key_file_is_refused(tmp_path: Path) -> None:
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], PW)
    os.chmod(pki.ca_dir / "issuing.key", 0o644)
    with pytest.raises(KeyFileError, match="too open"):
        ensure_broker_pki(tmp_path, ["localhost"], [], PW)


def test_root_key_can_be_kept_offline(tmp_path: Path) -> None:
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], PW)
    offline = tmp_path / "offline-root.key"
    (pki.ca_dir / "root.key").rename(offline)
    again = ensure_broker_pki(tmp_path, ["localhost", "other.example"], [], PW)
    assert again.signing_key_id == pki.signing_key_id
    # Renewing the intermediate needs the root key: a clear error, nothing changed.
    later = fixed_clock(dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365 - 100))
    with pytest.raises(KeyFileError, match="root key back online"):
        ensure_broker_pki(tmp_path, ["localhost"], [], PW, clock=later)


def test_bad_names_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="at least one"):
        ensure_broker_pki(tmp_path, [], [], PW)
    with pytest.raises(Exception, match="does not appear to be an IPv4 or IPv6"):
        ensure_broker_pki(tmp_path, ["localhost"], ["nope"], PW)
    assert not (tmp_path / "ca").exists()


def test_passphrase_from_env() -> None:
    assert passphrase_from_env({}) is None
    assert passphrase_from_env({PASSPHRASE_ENV: ""}) is None
    assert passphrase_from_env({PASSPHRASE_ENV: "sécret"}) == "sécret".encode()


def test_issuing_ca_loads_for_later_issuance(tmp_path: Path) -> None:
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], PW)
    issuing = load_issuing_ca(tmp_path, PW)
    client = issuing.issue_client("agent-1")
    verify_client_chain(client.cert, client.chain, load_certificates(pki.ca_cert_path))
    assert isinstance(client.cert, x509.Certificate)


async def test_server_ssl_context_serves_tls(tmp_path: Path) -> None:
    pki: BrokerPki = ensure_broker_pki(tmp_path, ["localhost"], ["127.0.0.1"], PW)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=pki.server_ssl_context())
    async with server:
        port = server.sockets[0].getsockname()[1]
        for name in ("localhost", "127.0.0.1"):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=pki.client_ssl_context(), server_hostname=name
            )
            writer.write(b"hi\n")
            assert await asyncio.wait_for(reader.readline(), 5) == b"hi\n"
            ssl_object = writer.get_extra_info("ssl_object")
            assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
            writer.close()


def test_intermediate_renewed_before_expiry_root_kept(tmp_path: Path) -> None:
    first = ensure_broker_pki(tmp_path, ["localhost"], [], PW)
    before = snapshot(first.ca_dir)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365 - 100)
    pki = ensure_broker_pki(tmp_path, ["localhost"], [], PW, clock=fixed_clock(later))
    after = snapshot(pki.ca_dir)
    assert after["root.pem"] == before["root.pem"] and after["root.key"] == before["root.key"]
    assert after["issuing.pem"] != before["issuing.pem"]
    # Every leaf now chains through the new intermediate; long-lived keys are kept.
    assert after["audit.key"] == before["audit.key"]
    assert after["checkpoint.key"] == before["checkpoint.key"]
    root = load_certificates(pki.ca_cert_path)
    for path in (pki.server_cert_path, pki.audit_cert_path, pki.signing_cert_path):
        chain = load_certificates(path)
        assert chain[1] == load_certificates(pki.intermediate_cert_path)[0]
    server = load_certificates(pki.server_cert_path)
    verify_server_chain(server[0], server[1:], root, "localhost", at=later)


def test_concurrent_first_starts_agree(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: ensure_broker_pki(tmp_path, ["localhost"], [], None), range(4))
        )
    assert len({r.signing_key_id for r in results}) == 1
    assert len({r.ca_pem() for r in results}) == 1
