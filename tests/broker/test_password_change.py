"""One-time passwords must be replaced: the first admin's, a generated one and an
admin's reset carry ``must_change_password``; ``POST /auth/password`` replaces it."""

from __future__ import annotations

from pathlib import Path

from broker.store import queries
from broker.store.db import DB
from broker.testing import running_broker


async def test_first_admin_and_reset_passwords_must_be_changed(tmp_path: Path) -> None:
    async with running_broker(tmp_path, keep_first_password=True) as b:
        token = await b.login(b.admin_username, b.admin_password)
        status, me, _ = await b.request("GET", "/api/v1/me", token=token)
        assert status == 200 and me["must_change_password"] is True

        wrong = {"current_password": "not it at all", "new_password": "a brand new secret"}
        status, body, _ = await b.request("POST", "/api/v1/auth/password", token=token, json=wrong)
        assert status == 400 and body["error"]["code"] == "invalid_field"
        same = {"current_password": b.admin_password, "new_password": b.admin_password}
        status, _, _ = await b.request("POST", "/api/v1/auth/password", token=token, json=same)
        assert status == 400
        ok = {"current_password": b.admin_password, "new_password": "a brand new secret"}
        status, body, _ = await b.request("POST", "/api/v1/auth/password", token=token, json=ok)
        assert status == 200 and body["user"]["must_change_password"] is False
        status, _, _ = await b.request("GET", "/api/v1/me", token=token)
        assert status == 401  # the old token went with the old password
        token = body["token"]  # the change signs this client in again
        assert await b.login(b.admin_username, "a brand new secret")

        status, made, _ = await b.request(
            "POST",
            "/api/v1/users",
            token=token,
            json={"username": "erin", "name": "Erin", "role": "engineer"},
        )
        assert status == 201 and made["user"]["must_change_password"] is True
        erin = await b.login("erin", made["password"])
        change = {"current_password": made["password"], "new_password": "erin's own secret"}
        status, _, _ = await b.request("POST", "/api/v1/auth/password", token=erin, json=change)
        assert status == 200
        status, reset, _ = await b.request(
            "PATCH",
            f"/api/v1/users/{made['user']['id']}",
            token=token,
            json={"password": "reset by the admin"},
        )
        assert status == 200 and reset["must_change_password"] is True


async def test_a_one_time_password_opens_nothing_but_the_password_change(tmp_path: Path) -> None:
    """Signed in with a one-time password, the API answers 403
    ``password_change_required`` everywhere but the change itself, ``/me`` and logout;
    after the change the same routes work."""
    async with running_broker(tmp_path, keep_first_password=True) as b:
        token = await b.login(b.admin_username, b.admin_password)
        for method, path, body in (
            ("GET", "/api/v1/users", None),
            ("GET", "/api/v1/tickets", None),
            ("POST", "/api/v1/tickets", {"title": "Printer"}),
            ("GET", "/api/v1/admin/certs", None),
            ("POST", "/api/v1/users", {"username": "x", "name": "X", "role": "engineer"}),
        ):
            status, answer, _ = await b.request(method, path, token=token, json=body)
            assert status == 403, (method, path, status, answer)
            assert answer["error"]["code"] == "password_change_required", answer
        status, _, _ = await b.request("GET", "/api/v1/me", token=token)
        assert status == 200
        # Nothing was created while blocked.
        assert [u.username for u in await queries.list_users(b.app[DB])] == [b.admin_username]

        ok = {"current_password": b.admin_password, "new_password": "a brand new secret"}
        status, changed, _ = await b.request("POST", "/api/v1/auth/password", token=token, json=ok)
        assert status == 200
        status, _, _ = await b.request("GET", "/api/v1/users", token=changed["token"])
        assert status == 200

        # An admin's reset blocks the reset user the same way.
        _, password = await b.create_user("erin", "engineer")
        erin = await b.login("erin", password)
        assert (await b.request("GET", "/api/v1/tickets", token=erin))[0] == 200
        users_list = (await b.request("GET", "/api/v1/users", token=changed["token"]))[1]
        erin_id = next(u["id"] for u in users_list["users"] if u["username"] == "erin")
        status, _, _ = await b.request(
            "PATCH",
            f"/api/v1/users/{erin_id}",
            token=changed["token"],
            json={"password": "reset by the admin"},
        )
        assert status == 200
        erin = await b.login("erin", "reset by the admin")
        status, answer, _ = await b.request("GET", "/api/v1/tickets", token=erin)
        assert status == 403 and answer["error"]["code"] == "password_change_required"
        status, _, _ = await b.request("POST", "/api/v1/auth/logout", token=erin)
        assert status == 200
