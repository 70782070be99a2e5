"""The signed session summary and the per-organisation policy behind it (issue 18):

* ``GET /api/v1/sessions/{session_id}/summary`` — ``{"summary", "signature"}``, built
  now and signed with the broker's checkpoint key (broker/summary/; verify with
  ``clearpane audit verify-summary FILE --ca root.pem``). Who may read the session may
  read its summary.
* ``GET /api/v1/organisations/{name}/policy`` and ``PUT … {summary_includes_chat}`` —
  whether an organisation's summaries carry the chat transcript (admins; off by
  default).
"""

from __future__ import annotations

from aiohttp import web

from broker.api.body import Query, read_body
from broker.auth.policy import may_read_session
from broker.clock import CLOCK
from broker.errors import Forbidden, InvalidField, NotFound
from broker.store import queries
from broker.store.db import DB
from broker.store.policy_models import OrganisationPolicy, get_policy, put_policy
from broker.summary import signed_summary

__all__ = ["get_org_policy", "put_org_policy", "session_summary"]


async def session_summary(request: web.Request) -> web.Response:
    """``GET /api/v1/sessions/{session_id}/summary``"""
    Query(request, ())
    sid = request.match_info["session_id"]
    session = await queries.get_session(request.app[DB], sid)
    if session is None:
        raise NotFound("no such session")
    if not await may_read_session(request, session):
        raise Forbidden("this session is neither yours nor in your queue")
    document = await signed_summary(request.app, sid)
    if document is None:
        raise NotFound("no such session")
    return web.json_response(document)


def _policy_json(p: OrganisationPolicy) -> dict[str, object]:
    return {"organisation": p.organisation, "summary_includes_chat": p.summary_includes_chat}


def _name(request: web.Request) -> str:
    name = request.match_info["name"].strip()
    if not 1 <= len(name) <= 200:
        raise InvalidField("name", "use 1-200 characters")
    return name


async def get_org_policy(request: web.Request) -> web.Response:
    """``GET /api/v1/organisations/{name}/policy``"""
    Query(request, ())
    return web.json_response(_policy_json(await get_policy(request.app[DB], _name(request))))


async def put_org_policy(request: web.Request) -> web.Response:
    """``PUT /api/v1/organisations/{name}/policy`` ``{summary_includes_chat}``"""
    name = _name(request)
    body = await read_body(
        request, allowed={"summary_includes_chat"}, required={"summary_includes_chat"}
    )
    chat = body.opt_bool("summary_includes_chat")
    assert chat is not None  # required above
    policy = await put_policy(
        request.app[DB], name, summary_includes_chat=chat, at=request.app[CLOCK].now_ms()
    )
    return web.json_response(_policy_json(policy))
