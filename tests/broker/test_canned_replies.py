"""Canned replies: supervisors (and admins) add, edit and remove them; engineers only
read them (broker/api/replies.py)."""

from __future__ import annotations

from pathlib import Path

from broker.testing import running_broker


async def test_a_supervisor_edits_a_canned_reply_and_engineers_read_the_new_text(
    tmp_path: Path,
) -> None:
    async with running_broker(tmp_path) as b:
        sup = await b.login(*await b.create_user("una", "supervisor"))
        eng = await b.login(*await b.create_user("erin", "engineer"))
        url = "/api/v1/canned-replies"
        status, made, _ = await b.request(
            "POST", url, token=sup, json={"title": "Restart", "text": "Please restart."}
        )
        assert status == 201
        one = f"{url}/{made['reply']['id']}"

        status, edited, _ = await b.request(
            "PATCH", one, token=sup, json={"text": "Please restart and tell me."}
        )
        assert status == 200
        assert edited["reply"]["title"] == "Restart"  # untouched
        assert edited["reply"]["text"] == "Please restart and tell me."
        status, edited, _ = await b.request("PATCH", one, token=sup, json={"title": "Reboot"})
        assert status == 200 and edited["reply"]["text"] == "Please restart and tell me."

        _, listed, _ = await b.request("GET", url, token=eng)
        assert [(r["title"], r["text"]) for r in listed["replies"]] == [
            ("Reboot", "Please restart and tell me.")
        ]

        # Engineers may not edit; bad bodies and unknown ids get clear errors.
        status, err, _ = await b.request("PATCH", one, token=eng, json={"title": "Mine"})
        assert status == 403 and err["error"]["code"] == "forbidden"
        status, err, _ = await b.request("PATCH", one, token=sup, json={})
        assert status == 400 and err["error"]["code"] == "bad_request"
        status, err, _ = await b.request("PATCH", one, token=sup, json={"title": ""})
        assert status == 400 and err["error"]["code"] == "invalid_field"
        status, err, _ = await b.request("PATCH", one, token=sup, json={"owner": "me"})
        assert status == 400 and err["error"]["code"] == "invalid_field"
        status, err, _ = await b.request("PATCH", f"{url}/nope", token=sup, json={"title": "x"})
        assert status == 404 and err["error"]["code"] == "not_found"
        _, listed, _ = await b.request("GET", url, token=eng)
        assert listed["replies"][0]["title"] == "Reboot"  # nothing changed by the refusals
