"""The admin CA (certs.store): init, issue, list, revoke, CRL — with real TLS handshakes."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import pytest

from audit.jsonl import event_sink, load_records
from certs.crl import load_crls
from certs.errors import CaStateError, CertVerificationError, IssuanceError, PassphraseError
from certs.index import parse_serial
from certs.keys import write_certificates, write_private_key_unencrypted
from certs.store import CaStore
from certs.testing import fixed_clock
from certs.tls import server_context
from certs.verify import verify_client_chain, verify_server_chain

PW = b"correct horse battery staple"


def make_store(tmp_path: Path, passphrase: bytes = PW, **kw: object) -> CaStore:
    sink = event_sink(tmp_path / "ca" / "audit.jsonl", "test")
    return CaStore(tmp_path, passphrase, events=sink, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> CaStore:
    s = make_store(tmp_path)
    s.init("Acme")
    return s


def ca_files(tmp_path: Path) -> dict[str, bytes]:
    ca = tmp_path / "ca"
    return {
        str(p.relative_to(ca)): p.read_bytes()
        for p in sorted(ca.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_init_creates_root_and_issuing_and_refuses_twice(store: CaStore, tmp_path: Path) -> None:
    root = store.root()
    issuing = store.issuing()
    assert issuing.cert.issuer == root.subject
    assert (tmp_path / "ca" / "root.key").stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED" in (tmp_path / "ca" / "root.key").read_bytes()
    before = ca_files(tmp_path)
    with pytest.raises(CaStateError, match="already exists"):
        make_store(tmp_path).init("Acme")
    assert ca_files(tmp_path) == before
    assert [r.event for r in load_records(tmp_path / "ca" / "audit.jsonl")] == ["ca.initialized"]


def test_issue_list_and_audit(store: CaStore, tmp_path: Path) -> None:
    client = store.issue_client("laptop-7", kind="agent", lifetime=dt.timedelta(days=60))
    server = store.issue_server(["node2.acme.test"], ["10.0.0.2"])
    verify_client_chain(client.cert, client.chain, [store.root()])
    verify_server_chain(server.cert, server.chain, [store.root()], "node2.acme.test")
    records = {r.serial: r for r in store.records()}
    c = records[format(client.cert.serial_number, "x")]
    assert (c.profile, c.status, c.names) == ("client", "valid", ("urn:clearpane:agent:laptop-7",))
    s = records[format(server.cert.serial_number, "x")]
    assert (s.profile, s.names) == ("server", ("node2.acme.test", "10.0.0.2"))
    events = [r.event for r in load_records(tmp_path / "ca" / "audit.jsonl")]
    assert events == ["ca.initialized", "cert.issued", "cert.issued"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=45)  # 15 days left of 60
    assert {r.serial: r.status for r in store.records(now=later)}[c.serial] == "expiring"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=61)
    assert {r.serial: r.status for r in store.records(now=later)}[c.serial] == "expired"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.issue_client("bad name"), "invalid client name"),
        (lambda s: s.issue_client("a" * 65), "invalid client name"),
        (lambda s: s.issue_client("x", kind="robot"), "kind"),
        (lambda s: s.issue_server(["bad_name!"], []), "invalid DNS name"),
        (lambda s: s.issue_server([], ["300.1.1.1"]), "invalid IP"),
        (lambda s: s.issue_server([], []), "at least one"),
        (lambda s: s.issue_client("x", lifetime=dt.timedelta(0)), "lifetime"),
        (lambda s: s.issue_client("x", lifetime=dt.timedelta(days=-1)), "lifetime"),
        (lambda s: s.issue_client("x", lifetime=dt.timedelta(days=4000)), "lifetime"),
    ],
)
def test_bad_requests_write_nothing(
    store: CaStore, tmp_path: Path, call: object, match: str
) -> None:
    before = ca_files(tmp_path)
    with pytest.raises(IssuanceError, match=match):
        call(store)  # type: ignore[operator]
    assert ca_files(tmp_path) == before


def test_wrong_passphrase_is_refused_and_writes_nothing(store: CaStore, tmp_path: Path) -> None:
    before = ca_files(tmp_path)
    wrong = make_store(tmp_path, b"not the passphrase")
    with pytest.raises(PassphraseError):
        wrong.issue_client("laptop")
    serial = format(store.issue_client("laptop").cert.serial_number, "x")
    before = ca_files(tmp_path)
    with pytest.raises(PassphraseError):
        wrong.revoke(serial)
    assert ca_files(tmp_path) == before


def test_revoke_publishes_crl_and_refuses_twice(store: CaStore, tmp_path: Path) -> None:
    issued = store.issue_client("laptop")
    serial = format(issued.cert.serial_number, "x")
    first_crl = load_crls(store.layout.crl)
    assert (
        first_crl
        and first_crl[0].get_revoked_certificate_by_serial_number(issued.cert.serial_number) is None
    )
    verify_client_chain(issued.cert, issued.chain, [store.root()], crls=first_crl)
    colons = ":".join(serial[i : i + 2] for i in range(0, len(serial), 2))
    record = store.revoke(colons, "key-compromise")
    assert (record.status, record.reason) == ("revoked", "key-compromise")
    crls = load_crls(store.layout.crl)
    assert crls[0].last_update_utc > first_crl[0].last_update_utc
    with pytest.raises(CertVerificationError, match="revoked"):
        verify_client_chain(issued.cert, issued.chain, [store.root()], crls=crls)
    before = ca_files(tmp_path)
    with pytest.raises(CaStateError, match="already revoked"):
        store.revoke(serial)
    with pytest.raises(CaStateError, match="no certificate with serial"):
        store.revoke("abcdef")
    with pytest.raises(CaStateError, match="not a certificate serial"):
        store.revoke("xyz!")
    with pytest.raises(CaStateError, match="unknown revocation reason"):
        store.revoke(serial, "bored")
    assert ca_files(tmp_path) == before
    events = [r.event for r in load_records(tmp_path / "ca" / "audit.jsonl")]
    assert events[-1] == "cert.revoked"


def test_stale_or_missing_crl_is_refused(store: CaStore) -> None:
    issued = store.issue_client("laptop")
    crls = load_crls(store.layout.crl)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    with pytest.raises(CertVerificationError, match="not current"):
        verify_client_chain(issued.cert, issued.chain, [store.root()], at=later, crls=crls)
    with pytest.raises(CertVerificationError, match="no CRL"):
        verify_client_chain(issued.cert, issued.chain, [store.root()], crls=[])
    assert not store.publish_crl()
    half = dt.datetime.now(dt.UTC) + dt.timedelta(days=4)
    assert make_store(store.data_dir, clock=fixed_clock(half)).publish_crl()


def test_parse_serial() -> None:
    assert parse_serial("0x0A:bc") == 0xABC
    with pytest.raises(CaStateError):
        parse_serial("")


def test_enrollment_file(store: CaStore, tmp_path: Path) -> None:
    out = tmp_path / "enroll.json"
    store.write_enrollment("https://broker.acme.test:8443/", out)
    import json

    data = json.loads(out.read_text())
    assert data["broker_url"] == "https://broker.acme.test:8443"
    assert "BEGIN CERTIFICATE" in data["ca_pem"]
    with pytest.raises(CaStateError, match="refusing to overwrite"):
        store.write_enrollment("https://b", out)
    with pytest.raises(IssuanceError, match="https://"):
        store.write_enrollment("http://b", tmp_path / "other.json")
    assert not (tmp_path / "other.json").exists()


# -- real TLS handshakes --------------------------------------------------------------


async def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, host: str) -> bytes:
    """Echo one line through a real TLS connection on 127.0.0.1."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(await reader.readline())
            await writer.drain()
        except (ssl.SSLError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    async with server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname=host
        )
        try:
            writer.write(b"ping\n")
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), 5)
        finally:
            writer.close()


def server_files(store: CaStore, tmp_path: Path, issued: object) -> ssl.SSLContext:
    cert, key = tmp_path / "srv.pem", tmp_path / "srv.key"
    write_certificates(cert, issued.fullchain)  # type: ignore[attr-defined]
    write_private_key_unencrypted(key, issued.key)  # type: ignore[attr-defined]
    return server_context(cert, key)


def client_trusting(*roots_pem: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata="".join(roots_pem))
    return ctx


async def test_tls_good_wrong_ca_wrong_name_expired(
    store: CaStore, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from certs.store import pem

    root_pem = pem(store.root())
    good = server_files(store, tmp_path, store.issue_server(["localhost"], ["127.0.0.1"]))
    assert await handshake(good, client_trusting(root_pem), "localhost") == b"ping\n"
    assert await handshake(good, client_trusting(root_pem), "127.0.0.1") == b"ping\n"
    other = make_store(tmp_path_factory.mktemp("other"))
    other.init("Evil")
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        await handshake(good, client_trusting(pem(other.root())), "localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        await handshake(good, client_trusting(root_pem), "broker.acme.test")
    forty_days_ago = fixed_clock(dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    past = make_store(tmp_path_factory.mktemp("past"), clock=forty_days_ago)
    past.init("Acme")
    expired = past.issue_server(["localhost"], [], lifetime=dt.timedelta(days=30))
    expired_ctx = server_files(past, tmp_path_factory.mktemp("exp"), expired)
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        await handshake(expired_ctx, client_trusting(pem(past.root())), "localhost")


async def test_tls_revoked_client_certificate_is_refused(store: CaStore, tmp_path: Path) -> None:
    from certs.store import pem

    srv = store.issue_server(["localhost"], [])
    ctx = server_files(store, tmp_path, srv)
    (tmp_path / "roots.pem").write_text(pem(store.root()))
    ctx.load_verify_locations(cafile=tmp_path / "roots.pem")
    ctx.load_verify_locations(cafile=store.layout.crl)
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    ctx.verify_mode = ssl.CERT_REQUIRED

    def client_with(name: str) -> tuple[ssl.SSLContext, int]:
        issued = store.issue_client(name)
        write_certificates(tmp_path / f"{name}.pem", issued.fullchain)
        write_private_key_unencrypted(tmp_path / f"{name}.key", issued.key)
        c = client_trusting(pem(store.root()))
        c.load_cert_chain(tmp_path / f"{name}.pem", tmp_path / f"{name}.key")
        return c, issued.cert.serial_number

    good, _ = client_with("good")
    bad, bad_serial = client_with("bad")
    assert await handshake(ctx, good, "localhost") == b"ping\n"
    assert await handshake(ctx, bad, "localhost") == b"ping\n"
    store.revoke(format(bad_serial, "x"))
    ctx.load_verify_locations(cafile=store.layout.crl)  # what the broker's reload does
    assert await handshake(ctx, good, "localhost") == b"ping\n"
    with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
        line = await handshake(ctx, bad, "localhost")
        assert line == b"", "a revoked client must not get an answer"
        raise ConnectionError("closed without an answer")
