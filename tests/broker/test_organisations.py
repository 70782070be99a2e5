"""Organisations (admins): create, change the contract tier, disable and enable again.
A disabled organisation gets no new tickets and no client requests (409
``organisation_disabled``); its existing tickets stay readable."""

from __future__ import annotations

from pathlib import Path

from broker.testing import running_broker


async def test_an_admin_creates_changes_and_disables_an_organisation(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        admin = await b.login(b.admin_username, b.admin_password)
        eng = await b.login(*await b.create_user("erin", "engineer"))
        url = "/api/v1/organisations"

        status, org, _ = await b.request(
            "PUT", f"{url}/Acme", token=admin, json={"tier": "standard"}
        )
        assert status == 200 and org == {"name": "Acme", "tier": "standard", "disabled": False}
        status, org, _ = await b.request(
            "PUT", f"{url}/Acme", token=admin, json={"tier": "premium"}
        )
        assert status == 200 and org["tier"] == "premium"
        status, err, _ = await b.request("PUT", f"{url}/Acme", token=admin, json={"tier": "gold"})
        assert status == 400 and err["error"]["code"] == "invalid_field"
        status, err, _ = await b.request("PUT", f"{url}/Acme", token=eng, json={"tier": "premium"})
        assert status == 403

        status, before, _ = await b.request(
            "POST", "/api/v1/tickets", token=eng, json={"title": "Printer", "organisation": "Acme"}
        )
        assert status == 201

        status, org, _ = await b.request(
            "PUT", f"{url}/Acme", token=admin, json={"tier": "premium", "disabled": True}
        )
        assert status == 200 and org["disabled"] is True
        _, listed, _ = await b.request("GET", url, token=admin)
        assert listed["organisations"] == [{"name": "Acme", "tier": "premium", "disabled": True}]

        # Disabled: no new ticket, no move of a ticket into it, no client request naming it.
        status, err, _ = await b.request(
            "POST", "/api/v1/tickets", token=eng, json={"title": "Mail", "organisation": "Acme"}
        )
        assert status == 409 and err["error"]["code"] == "organisation_disabled", err
        status, other, _ = await b.request(
            "POST", "/api/v1/tickets", token=eng, json={"title": "VPN"}
        )
        assert status == 201
        status, err, _ = await b.request(
            "PATCH", f"/api/v1/tickets/{other['id']}", token=eng, json={"organisation": "Acme"}
        )
        assert status == 409 and err["error"]["code"] == "organisation_disabled"
        status, err, _ = await b.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "help", "client_name": "Ann", "organisation": "Acme"},
        )
        assert status == 409 and err["error"]["code"] == "organisation_disabled"
        # Its history stays: the old ticket is still there.
        status, _, _ = await b.request("GET", f"/api/v1/tickets/{before['id']}", token=eng)
        assert status == 200

        # Enabled again (PUT without "disabled" means enabled): requests work.
        status, org, _ = await b.request(
            "PUT", f"{url}/Acme", token=admin, json={"tier": "premium"}
        )
        assert status == 200 and org["disabled"] is False
        status, made, _ = await b.request(
            "POST",
            "/api/v1/agent/requests",
            json={"description": "help", "client_name": "Ann", "organisation": "Acme"},
        )
        assert status == 201, made
