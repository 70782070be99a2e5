"""Canned replies over HTTP: engineers read them (the session page's chat offers them),
supervisors and admins add, edit and remove them."""

from __future__ import annotations

from aiohttp import web

from broker.api.body import Query, read_body
from broker.auth.policy import USER
from broker.clock import CLOCK, iso_ms
from broker.errors import BadRequest
from broker.store import reply_models as rm
from broker.store.db import DB

__all__ = ["create_reply", "delete_reply", "list_replies", "update_reply"]


def _json(r: rm.CannedReply) -> dict[str, object]:
    return {"id": r.id, "title": r.title, "text": r.text, "created_at": iso_ms(r.created_at_ms)}


async def list_replies(request: web.Request) -> web.Response:
    """``GET /api/v1/canned-replies``"""
    Query(request, ())
    replies = await rm.list_replies(request.app[DB])
    return web.json_response({"replies": [_json(r) for r in replies]})


async def create_reply(request: web.Request) -> web.Response:
    """``POST /api/v1/canned-replies`` ``{title, text}``"""
    body = await read_body(request, allowed={"title", "text"}, required={"title", "text"})
    reply = await rm.create_reply(
        request.app[DB],
        title=body.text("title", max_len=100),
        text=body.text("text", max_len=4000),
        created_by=request[USER].id,
        at=request.app[CLOCK].now_ms(),
    )
    return web.json_response({"reply": _json(reply)}, status=201)


async def update_reply(request: web.Request) -> web.Response:
    """``PATCH /api/v1/canned-replies/{reply_id}`` ``{title?, text?}``"""
    body = await read_body(request, allowed={"title", "text"})
    title = body.opt_text("title", max_len=100, min_len=1)
    text = body.opt_text("text", max_len=4000, min_len=1)
    if title is None and text is None:
        raise BadRequest("give a new title, a new text or both")
    reply = await rm.update_reply(
        request.app[DB], request.match_info["reply_id"], title=title, text=text
    )
    return web.json_response({"reply": _json(reply)})


async def delete_reply(request: web.Request) -> web.Response:
    """``DELETE /api/v1/canned-replies/{reply_id}``"""
    await rm.delete_reply(request.app[DB], request.match_info["reply_id"])
    return web.json_response({"status": "deleted"})
