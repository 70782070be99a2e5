""":class:`NatsRelay`: several broker processes (on one machine or many) serve one session.

A session's core runs in its **home**: the process its agent first connected to. The
home is the :class:`~broker.relay.backend.InProcessRelay` it always was, plus a
subscription to ``cp.s.S.req`` (attach, end) and ``cp.s.S.from.*`` (input). A
WebSocket that lands on another process (a viewer, or the agent reconnecting through
the load balancer) becomes a :class:`~broker.relay.nats.remote.RemoteEndpoint` on the
home: consent, the input gate, flow control (the per-viewer credit is counted by the
home from the acks that come back the same way), the log and the recording stay in
the home. Order: one publisher per subject, and NATS keeps each publisher's order.

Node failure (docs/operations.md §6): a home that stops (process killed) stops its
heartbeat and its subscriptions vanish from NATS. Processes holding endpoints of its
sessions tell them ``session.ended`` (``failed``) within :data:`HOME_TIMEOUT_S`; the
session is then **ended cleanly from the shared store**: a surviving process opens
the log on shared storage (its file lock shows the old writer is gone), records
``session.ended`` (reason ``failed``, why in ``resolution``), seals it with a signed
checkpoint and marks the session ended; the agent, reconnecting, is told the session
ended (final). Nothing already written is lost or rewritten. The other way round,
a home whose remote endpoint's process goes silent detaches that endpoint (a viewer
leaves, with its consent; an agent is gone, as if its socket had closed).

Claims (issue 15): a process becomes a session's home only by winning its row in the
shared store (``claim``: an atomic compare-and-set in PostgreSQL), so two processes that
both see the agent's first connection cannot both run its core; the loser attaches
through the winner. A process that stops hearing its own heartbeat has lost NATS
(:data:`FENCE_S`): it **fences itself** — the WebSockets it holds for sessions homed
elsewhere are closed with 1013 (try again: agent and viewer reconnect through the load
balancer to a healthy process), the sessions homed here that had endpoints elsewhere
are ended cleanly (``failed``: what those endpoints' processes tell their viewers), and
its health check answers 503 until the link is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from broker.relay.actions import AGENT
from broker.relay.backend import Endpoint, InProcessRelay
from broker.relay.handover import handover_claim, handover_from_claims
from broker.relay.nats import wire
from broker.relay.nats.links import (
    CLAIM_WAIT_S,
    FIRST_STATES,
    NODE_FAILED,
    REQUEST_TIMEOUT_S,
    RETRY_CLOSE,
    LinkedRelay,
    Served,
)
from broker.relay.nats.remote import Attachment, RemoteEndpoint, deliver
from broker.relay.session import SessionInfo, ViewerUser
from protocol.errors import ErrorCode, ProtocolError
from protocol.media import BinaryMessage, parse_binary
from protocol.messages import ControlMessage, parse_control, serialize_control

__all__ = ["NatsRelay"]

log = logging.getLogger(__name__)


class NatsRelay(LinkedRelay):
    """The relay over NATS (DESIGN §8); create with :meth:`connect`."""

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> NatsRelay:
        """Connect to NATS at ``url`` and start the heartbeat (kwargs: see ``__init__``)."""
        import nats

        nc = await nats.connect(
            url,
            name=kwargs["node_id"],
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            # Every subject is built by wire.py from safe tokens: no regex per frame.
            skip_subject_validation=True,
        )
        relay = cls(nc=nc, **kwargs)
        relay._hb_sub = await nc.subscribe(wire.HEARTBEAT_WILDCARD, cb=relay._on_heartbeat)
        relay._hb_task = asyncio.get_running_loop().create_task(relay._heartbeat())
        return relay

    async def close(self) -> None:
        """Stop the heartbeat, publish what is queued, leave NATS."""
        if self._hb_task is not None:
            self._hb_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._hb_task
        await self._outbox.close()
        with contextlib.suppress(Exception):
            await self._nc.drain()

    # -- attach ------------------------------------------------------------------

    async def attach_agent(
        self,
        info: SessionInfo,
        endpoint: Endpoint,
        resume_token: str | None,
        log_seq: int | None = None,
    ) -> None:
        """Here if the session's core is here or nowhere yet; else attach to its home."""
        sid = info.session_id
        if self.core.get(sid) is None:
            self._refuse_if_fenced()
            payload = {"op": "attach_agent", "resume": resume_token, "log_seq": log_seq}
            if await self._attach_or_claim(sid, payload, endpoint):
                return
        await self._serve(sid)
        try:
            await super().attach_agent(info, endpoint, resume_token, log_seq)
        except ProtocolError:
            if self.core.get(sid) is None:
                await self._unserve(sid)
            raise

    async def attach_viewer(
        self, session_id: str, user: ViewerUser, permissions: Iterable[str], endpoint: Endpoint
    ) -> str:
        """Here if the core is here, else through the home."""
        if self.core.get(session_id) is not None:
            return await super().attach_viewer(session_id, user, permissions, endpoint)
        self._refuse_if_fenced()
        payload = {
            "op": "attach_viewer",
            "user": {"user_id": user.user_id, "name": user.name, "role": user.role},
            # issue 19: a transfer's or invitation's join, as the token carried it
            "handover": handover_claim(user.handover) if user.handover else None,
            "perms": sorted(permissions),
        }
        viewer_id = await self._remote_attach(session_id, payload, endpoint)
        if viewer_id is None:  # no process holds the session: as the in-process relay says
            return await super().attach_viewer(session_id, user, permissions, endpoint)
        return viewer_id

    async def _attach_or_claim(self, sid: str, payload: dict[str, Any], endpoint: Endpoint) -> bool:
        """Attach the agent through the session's home (True), or win the session's
        claim so that its core runs here (False: the caller serves it)."""
        deadline = time.monotonic() + CLAIM_WAIT_S
        while True:
            if await self._remote_attach(sid, payload, endpoint) is not None:
                return True
            if await self._stored_state(sid) not in FIRST_STATES:
                # Held before by a process that is gone: end it cleanly (node failure).
                await self._end_orphan(sid)
                raise ProtocolError.of(ErrorCode.SESSION_ENDED, f"the session ended: {NODE_FAILED}")
            if self._claim is None:
                return False
            holder = await self._claim(sid, None)
            if holder != self.node_id and not self.node_alive(holder):
                holder = await self._claim(sid, holder)  # compare-and-set on the dead one
            if holder == self.node_id:
                return False
            # Another process won: it is subscribing now; attach through it.
            if time.monotonic() > deadline:
                raise ProtocolError(
                    ErrorCode.SHUTTING_DOWN,
                    f"the session is held by broker process {holder}, which does not answer",
                    RETRY_CLOSE,
                )
            log.info("session %s: claimed by %s; attaching through it", sid, holder)
            await asyncio.sleep(0.05)

    async def _remote_attach(
        self, sid: str, payload: dict[str, Any], endpoint: Endpoint
    ) -> str | None:
        """Attach ``endpoint`` to the session's home; None when no process holds it."""
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout

        att = Attachment(sid, secrets.token_hex(8), endpoint)
        att.sub = await self._nc.subscribe(
            wire.to_subject(sid, att.ep), cb=partial(self._on_delivery, att)
        )
        body = json.dumps({**payload, "ep": att.ep, "node": self.node_id}).encode()
        try:
            msg = await self._nc.request(wire.req_subject(sid), body, timeout=REQUEST_TIMEOUT_S)
            answer = json.loads(msg.data)
        except NoRespondersError:
            await att.sub.unsubscribe()
            return None
        except (NatsTimeout, TimeoutError) as exc:
            await att.sub.unsubscribe()
            raise ProtocolError.of(
                ErrorCode.SHUTTING_DOWN, "the session's broker did not answer"
            ) from exc
        if not answer.get("ok"):
            await att.sub.unsubscribe()
            raise ProtocolError(answer["code"], answer["message"], answer.get("close_code"))
        att.to, att.home = answer["id"], answer["node"]
        old = self._attached.get((sid, att.to))
        if old is not None and old.sub is not None:
            self._spawn(old.sub.unsubscribe())
        self._attached[(sid, att.to)] = att
        self._seen.setdefault(wire.token(att.home), time.monotonic())
        log.info("session %s: %s attached to its home %s", sid, att.to, att.home)
        return att.to

    # -- what a local WebSocket says -------------------------------------------------

    async def agent_control(self, session_id: str, msg: ControlMessage) -> None:
        """See :meth:`RelayBackend.agent_control`."""
        if not self._forward(session_id, AGENT, wire.text(serialize_control(msg))):
            await super().agent_control(session_id, msg)

    async def viewer_control(self, session_id: str, viewer_id: str, msg: ControlMessage) -> None:
        """See :meth:`RelayBackend.viewer_control`."""
        if not self._forward(session_id, viewer_id, wire.text(serialize_control(msg))):
            await super().viewer_control(session_id, viewer_id, msg)

    async def agent_binary(self, session_id: str, frame: BinaryMessage, data: bytes) -> None:
        """See :meth:`RelayBackend.agent_binary`."""
        if not self._forward(session_id, AGENT, wire.binary(data)):
            await super().agent_binary(session_id, frame, data)

    async def viewer_binary(
        self, session_id: str, viewer_id: str, frame: BinaryMessage, data: bytes
    ) -> None:
        """See :meth:`RelayBackend.viewer_binary`."""
        if not self._forward(session_id, viewer_id, wire.binary(data)):
            await super().viewer_binary(session_id, viewer_id, frame, data)

    async def detach_agent(self, session_id: str, endpoint: Endpoint) -> None:
        """See :meth:`RelayBackend.detach_agent`."""
        if not self._detach(session_id, AGENT, endpoint, "closed"):
            await super().detach_agent(session_id, endpoint)

    async def detach_viewer(self, session_id: str, viewer_id: str, reason: str) -> None:
        """See :meth:`RelayBackend.detach_viewer`."""
        if not self._detach(session_id, viewer_id, None, reason):
            await super().detach_viewer(session_id, viewer_id, reason)

    async def end_session(
        self, session_id: str, *, reason: str, by: str, resolution: str | None
    ) -> bool:
        """Here, or asked of the session's home."""
        if self.core.get(session_id) is not None:
            return await super().end_session(
                session_id, reason=reason, by=by, resolution=resolution
            )
        from nats.errors import NoRespondersError

        body = {"op": "end", "reason": reason, "by": by, "resolution": resolution}
        try:
            msg = await self._nc.request(
                wire.req_subject(session_id), json.dumps(body).encode(), timeout=REQUEST_TIMEOUT_S
            )
        except (NoRespondersError, TimeoutError):
            return False
        return bool(json.loads(msg.data).get("ok"))

    async def shutdown(self) -> None:
        """End the sessions homed here; what they send to remote endpoints goes out."""
        await super().shutdown()
        await self._outbox.drain()

    def _forward(self, sid: str, to: str, payload: bytes) -> bool:
        att = self._attached.get((sid, to))
        if att is None:
            return False
        self._outbox.put(wire.from_subject(sid, att.ep), payload)
        return True

    def _detach(self, sid: str, to: str, endpoint: Endpoint | None, reason: str) -> bool:
        att = self._attached.get((sid, to))
        if att is None or (endpoint is not None and att.endpoint is not endpoint):
            return False
        del self._attached[(sid, to)]
        self._outbox.put(wire.from_subject(sid, att.ep), wire.detach(reason))
        if att.sub is not None:
            self._spawn(att.sub.unsubscribe())
        return True

    # -- the home's side -----------------------------------------------------------

    async def _serve(self, sid: str) -> None:
        if sid in self._served:
            return
        served = Served()
        self._served[sid] = served
        served.subs.append(
            await self._nc.subscribe(wire.req_subject(sid), cb=partial(self._on_request, sid))
        )
        served.subs.append(
            await self._nc.subscribe(wire.from_wildcard(sid), cb=partial(self._on_input, sid))
        )
        await self._until_served(sid)

    async def _until_served(self, sid: str) -> None:
        """Return once the server routes the session's requests here (before anyone
        is told to come). nats-py's ``flush()`` is no barrier: its PING bypasses the
        buffer that holds the SUB, so ask ourselves until we answer."""
        from nats.errors import NoRespondersError

        body = json.dumps({"op": "ping"}).encode()
        for _ in range(100):
            try:
                await self._nc.request(wire.req_subject(sid), body, timeout=REQUEST_TIMEOUT_S)
                return
            except NoRespondersError:
                await asyncio.sleep(0.01)
        log.warning("session %s: NATS did not route its requests here in time", sid)

    async def _unserve(self, sid: str) -> None:
        served = self._served.pop(sid, None)
        if served is not None:
            for sub in served.subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            if self._release is not None:
                try:
                    await self._release(sid)
                except Exception as exc:  # the store is down: the row names a closed session
                    log.warning("session %s: claim not released: %s", sid, exc)

    def _session_closed(self, sid: str) -> None:
        self._spawn(self._unserve(sid))
        super()._session_closed(sid)

    async def _on_request(self, sid: str, msg: Any) -> None:
        try:
            req = json.loads(msg.data)
            answer = await self._answer(sid, req)
        except ProtocolError as exc:
            answer = {
                "ok": False,
                "code": str(exc.code),
                "message": exc.message,
                "close_code": exc.close_code,
            }
        except Exception:
            log.exception("session %s: request failed", sid)
            answer = {"ok": False, "code": "internal", "message": "internal error"}
        await msg.respond(json.dumps(answer).encode())

    async def _answer(self, sid: str, req: dict[str, Any]) -> dict[str, Any]:
        op, served = req.get("op"), self._served.get(sid)
        if op == "ping":
            return {"ok": True}
        session = self.core.get(sid)
        if op == "end":
            ok = session is not None and await InProcessRelay.end_session(
                self, sid, reason=req["reason"], by=req["by"], resolution=req.get("resolution")
            )
            if ok:
                await self.flush_store()
            return {"ok": ok}
        if session is None or served is None:
            raise ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended")
        ep, node = str(req["ep"]), str(req["node"])
        remote = RemoteEndpoint(self._outbox, wire.to_subject(sid, ep))
        self._seen.setdefault(wire.token(node), time.monotonic())
        if op == "attach_agent":
            served.eps[ep] = (AGENT, remote, node)
            try:
                log_seq = req.get("log_seq")
                await InProcessRelay.attach_agent(
                    self,
                    session.info,
                    remote,
                    req.get("resume"),
                    log_seq if isinstance(log_seq, int) else None,
                )
            except ProtocolError:
                served.eps.pop(ep, None)
                raise
            return {"ok": True, "id": AGENT, "node": self.node_id}
        if op == "attach_viewer":
            u = req["user"]
            handover = handover_from_claims(req)  # issue 19: transfer / invitation
            user = ViewerUser(str(u["user_id"]), str(u["name"]), str(u["role"]), handover)
            vid = await InProcessRelay.attach_viewer(self, sid, user, req["perms"], remote)
            served.eps[ep] = (vid, remote, node)
            return {"ok": True, "id": vid, "node": self.node_id}
        raise ProtocolError.of(ErrorCode.INVALID_FIELD, f"unknown request {op!r}")

    async def _on_input(self, sid: str, msg: Any) -> None:
        served = self._served.get(sid)
        ep = msg.subject.rsplit(".", 1)[-1]
        entry = served.eps.get(ep) if served is not None else None
        if entry is None:
            return
        to, remote, _ = entry
        data: bytes = msg.data
        kind = data[:1]
        try:
            if kind == wire.BINARY:
                payload = data[1:]
                frame = parse_binary(payload)
                if to == AGENT:
                    await InProcessRelay.agent_binary(self, sid, frame, payload)
                else:
                    await InProcessRelay.viewer_binary(self, sid, to, frame, payload)
            elif kind == wire.TEXT:
                control = parse_control(data[1:])
                if to == AGENT:
                    await InProcessRelay.agent_control(self, sid, control)
                else:
                    await InProcessRelay.viewer_control(self, sid, to, control)
            elif kind == wire.DETACH and served is not None:
                served.eps.pop(ep, None)
                if to == AGENT:
                    await InProcessRelay.detach_agent(self, sid, remote)
                else:
                    await InProcessRelay.detach_viewer(self, sid, to, data[1:].decode())
        except ProtocolError as exc:  # checked where the socket is: only a bug gets here
            log.warning("session %s: bad forwarded frame from %s: %s", sid, to, exc)

    async def _on_delivery(self, att: Attachment, msg: Any) -> None:
        deliver(att.endpoint, msg.data)
