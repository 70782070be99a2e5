"""The CA over HTTP: admin-only issue/list/revoke, public CRL and trust bundle, audit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from audit.jsonl import load_records
from broker.testing import running_broker


async def test_admin_issue_list_revoke_with_audit(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        admin = await b.login(b.admin_username, b.admin_password)
        user, pw = await b.create_user("erin", "engineer", password="engineer-password-1")
        eng = await b.login(user, pw)
        body = {"profile": "client", "name": "laptop-9", "kind": "staff", "days": 30}
        status, _, _ = await b.request("POST", "/api/v1/admin/certs", token=eng, json=body)
        assert status == 403
        status, _, _ = await b.request("GET", "/api/v1/admin/certs", token=eng)
        assert status == 403

        status, issued, _ = await b.request("POST", "/api/v1/admin/certs", token=admin, json=body)
        assert status == 201
        cert = x509.load_pem_x509_certificates(issued["cert_pem"].encode())[0]
        key = load_pem_private_key(issued["key_pem"].encode(), issued["key_passphrase"].encode())
        assert key.public_key() == cert.public_key()
        assert issued["certificate"]["names"] == ["urn:clearpane:staff:laptop-9"]

        for bad, field_msg in (
            ({**body, "days": 0}, "days"),
            ({**body, "name": "bad name"}, "invalid client name"),
            ({"profile": "server", "dns": ["bad_name!"], "days": 30}, "invalid DNS name"),
            ({"profile": "client", "name": "x"}, "days"),
        ):
            status, err, _ = await b.request("POST", "/api/v1/admin/certs", token=admin, json=bad)
            assert status == 400 and field_msg in str(err), (bad, err)

        status, listed, _ = await b.request("GET", "/api/v1/admin/certs", token=admin)
        assert status == 200
        serial = issued["certificate"]["serial"]
        mine = next(c for c in listed["certificates"] if c["serial"] == serial)
        assert mine["status"] == "valid"
        assert {c["profile"] for c in listed["certificates"]} >= {
            "server",
            "client",
            "audit-recipient",
            "checkpoint-signer",
        }
        assert listed["rotation"]["stage"] is None

        path = f"/api/v1/admin/certs/{serial}/revoke"
        status, revoked, _ = await b.request(
            "POST", path, token=admin, json={"reason": "superseded"}
        )
        assert (status, revoked["certificate"]["status"]) == (200, "revoked")
        status, err, _ = await b.request("POST", path, token=admin, json={})
        assert status == 409 and "already revoked" in err["error"]["message"]

        status, crl_pem, _ = await b.request("GET", "/api/v1/crl")
        crl = x509.load_pem_x509_crl(crl_pem.encode())
        assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
        status, bundle, _ = await b.request("GET", "/api/v1/trust-bundle")
        assert status == 200 and len(bundle["roots"]) == 1

        records = load_records(b.data_dir / "ca" / "audit.jsonl")
        assert [(r.event, r.actor) for r in records][-2:] == [
            ("cert.issued", "admin:admin"),
            ("cert.revoked", "admin:admin"),
        ]


async def test_renewing_the_broker_certificate_from_the_admin_api(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        admin = await b.login(b.admin_username, b.admin_password)
        body = {"profile": "broker-server", "days": 60}
        status, issued, _ = await b.request("POST", "/api/v1/admin/certs", token=admin, json=body)
        assert status == 201 and "key_pem" not in issued
        _, writer = await asyncio.open_connection(
            "127.0.0.1", b.server.port, ssl=b.ssl_context(), server_hostname="127.0.0.1"
        )
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        served = x509.load_der_x509_certificate(der)
        assert format(served.serial_number, "x") == issued["certificate"]["serial"]
