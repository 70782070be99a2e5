"""Quality review: recordings for replay, reviewer scores, the reviewer dashboard.

Routes (under ``/api/v1``; roles in :data:`ROUTES`, registered by :func:`setup_review_routes`):

* ``GET /review/sessions`` — sessions for review, filtered by ``engineer_id``,
  ``ticket_id``, ``since``/``until`` (epoch ms, creation time), ``outcome`` (end
  reason), ``min_rating``/``max_rating`` and ``recorded`` (1: only with a recording);
  each with ``has_recording`` and its reviews.
* ``GET /recordings/{session_id}`` — opens a replay: writes ``replay.viewed`` to the
  session's review log *first* (fail closed), then returns the recording's summary,
  the session log (shown beside the picture), the audit-wrapped content keys and a
  ``replay_token``. The bytes routes below need that token: no byte of a recording
  leaves the broker without an audited replay.
* ``GET /recordings/{session_id}/index?replay=`` — the seek index (binary, 25-byte entries).
* ``GET /recordings/{session_id}/data?replay=&start=&end=`` — recording bytes ``[start, end)``.
* ``POST /review/sessions/{session_id}/reviews`` ``{"overall", "competence", "notes"}``.
* ``GET /review/dashboard?since=&until=`` — per-engineer figures.
* ``GET /review/sessions/{session_id}/verify`` — the evidence verified (as
  ``clearpane audit verify``, against the organisation root): VALID or every finding.
* ``GET /review/sessions/{session_id}/evidence`` — the evidence bundle (ZIP); the export
  is logged (``log.exported``) in the review log first.

Policy (docs/evidence.md): reviewers, supervisors and admins see and replay every
recording and score sessions. An engineer may list and replay only the recordings of
sessions they answered (:data:`ENGINEERS_REPLAY_OWN`) — to learn from their own work —
and may neither score nor see the dashboard. The replay is audited the same way.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from audit.bundle import BundleReport, export_bundle, verify_bundle
from audit.errors import AuditError
from audit.recording import INDEX_FILE, RECORDING_FILE, RecordingError
from broker.api.body import Query, read_body
from broker.api.serialize import session_json
from broker.auth.policy import USER, Handler, guard
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.errors import Forbidden, InvalidField, NotFound
from broker.pki import PKI
from broker.recording import RECORDER, RecordingService, recording_ctx
from broker.session_log import session_dir
from broker.store import queries
from broker.store import review_models as rq
from broker.store.db import DB
from certs.verify import verify_checkpoint_signer

__all__ = [
    "ENGINEERS_REPLAY_OWN",
    "REVIEWERS",
    "ROUTES",
    "setup_review_routes",
]

API_PREFIX = "/api/v1"
REVIEWERS = frozenset({"reviewer", "supervisor", "admin"})
READERS = frozenset({"engineer", "reviewer", "supervisor", "admin"})
ENGINEERS_REPLAY_OWN = True
REPLAY_TOKEN_TTL_MS = 4 * 3600 * 1000
MAX_CHUNK = 64 * 1024 * 1024

_REPLAYS = web.AppKey[dict[str, "Replay"]]("review_replays")


@dataclass(frozen=True, slots=True)
class Replay:
    """An audited replay: who may fetch which recording's bytes until when."""

    session_id: str
    user_id: str
    expires_ms: int


def _recorder(request: web.Request) -> RecordingService:
    if RECORDER not in request.app:
        raise NotFound("recording is not enabled")
    return request.app[RECORDER]


def _may_see(user: queries.User, session: queries.SessionInfo) -> bool:
    if user.role in REVIEWERS:
        return True
    return ENGINEERS_REPLAY_OWN and user.role == "engineer" and session.engineer_id == user.id


async def _session(request: web.Request) -> queries.SessionInfo:
    session = await queries.get_session(request.app[DB], request.match_info["session_id"])
    if session is None:
        raise NotFound("no such session")
    if not _may_see(request[USER], session):
        raise Forbidden("this session's recording is not yours to see")
    return session


def _opt_int(query: Query, name: str, low: int, high: int) -> int | None:
    # No sentinel: "-1" is out of range, not "absent" (found by tests/broker/test_api_fuzz.py).
    return query.opt_integer(name, low=low, high=high)


async def list_review_sessions(request: web.Request) -> web.Response:
    """``GET /review/sessions``: sessions with recording flag, rating and reviews."""
    q = Query(
        request,
        {
            "engineer_id",
            "ticket_id",
            "since",
            "until",
            "outcome",
            "min_rating",
            "max_rating",
            "recorded",
            "limit",
        },
    )
    engineer_id = q.opt_text("engineer_id", max_len=64)
    ticket_id = q.opt_text("ticket_id", max_len=64)
    since = _opt_int(q, "since", 0, 2**53)
    until = _opt_int(q, "until", 0, 2**53)
    outcome = q.opt_text("outcome", max_len=32)
    min_rating = _opt_int(q, "min_rating", 1, 5)
    max_rating = _opt_int(q, "max_rating", 1, 5)
    recorded = _opt_int(q, "recorded", 0, 1)
    limit = q.integer("limit", default=200, low=1, high=1000)
    user = request[USER]
    if user.role not in REVIEWERS:
        engineer_id = user.id  # an engineer sees only their own sessions
    db = request.app[DB]
    sessions = await queries.list_sessions(
        db, ticket_id=ticket_id, engineer_id=engineer_id, limit=1000
    )
    out = []
    recorder = request.app.get(RECORDER, None)
    for s in sessions:
        if not _may_see(user, s) or s.state != "ended":
            continue
        if since is not None and s.created_at_ms < since:
            continue
        if until is not None and s.created_at_ms >= until:
            continue
        if outcome is not None and s.end_reason != outcome:
            continue
        if min_rating is not None and (s.rating_score is None or s.rating_score < min_rating):
            continue
        if max_rating is not None and (s.rating_score is None or s.rating_score > max_rating):
            continue
        has = recorder is not None and recorder.has_recording(s.id)
        if recorded == 1 and not has:
            continue
        out.append((s, has))
        if len(out) >= limit:
            break
    reviews = await rq.reviews_for(db, [s.id for s, _ in out])
    engineers = {u.id: u.name for u in await queries.list_users(db)} if out else {}
    return web.json_response(
        {
            "sessions": [
                {
                    **session_json(s),
                    "engineer_name": engineers.get(s.engineer_id or ""),
                    "has_recording": has,
                    "reviews": [_review_json(r) for r in reviews.get(s.id, [])],
                }
                for s, has in out
            ]
        }
    )


def _review_json(r: rq.Review) -> dict[str, object]:
    return {
        "id": r.id,
        "reviewer_id": r.reviewer_id,
        "reviewer_name": r.reviewer_name,
        "overall": r.overall,
        "competence": r.competence,
        "notes": r.notes,
        "at_ms": r.created_at_ms,
    }


async def open_replay(request: web.Request) -> web.Response:
    """``GET /recordings/{session_id}``: audit the replay, then describe the recording."""
    session = await _session(request)
    recorder = _recorder(request)
    if not recorder.has_recording(session.id):
        raise NotFound("no recording of this session (never recorded, or deleted by retention)")
    user = request[USER]
    now = request.app[CLOCK].now_ms()
    try:
        summary = recorder.index_summary(session.id)
    except RecordingError as exc:
        raise NotFound(f"the recording cannot be read: {exc.reason}") from None
    # Fail closed: without its audit record, a replay does not happen.
    record = recorder.review_event(
        session.id,
        "replay.viewed",
        f"user:{user.id}",
        {"user": user.id, "name": user.name, "role": user.role},
        now,
    )
    token = secrets.token_urlsafe(24)
    replays = request.app[_REPLAYS]
    for key in [k for k, r in replays.items() if r.expires_ms <= now]:
        del replays[key]
    replays[token] = Replay(session.id, user.id, now + REPLAY_TOKEN_TTL_MS)
    log: list[dict[str, object]] = []
    log_path = session_dir(request.app[CONFIG].data_dir, session.id) / "log.jsonl"
    if log_path.exists():
        from audit.jsonl import read_jsonl

        try:
            log = [r.to_dict() for r in read_jsonl(log_path).records]
        except AuditError:
            log = []
    return web.json_response(
        {
            **summary,
            "session": session_json(session),
            "log": log,
            "replay_token": token,
            "replay_record": record,
        }
    )


def _replay(request: web.Request, session_id: str) -> None:
    token = request.query.get("replay", "")
    replay = request.app[_REPLAYS].get(token)
    now = request.app[CLOCK].now_ms()
    if (
        replay is None
        or replay.session_id != session_id
        or replay.user_id != request[USER].id
        or replay.expires_ms <= now
    ):
        raise Forbidden("open the replay first (GET /recordings/{id}): every replay is audited")


async def recording_index(request: web.Request) -> web.Response:
    """``GET /recordings/{session_id}/index?replay=``: the seek index bytes."""
    sid = request.match_info["session_id"]
    _replay(request, sid)
    data = _recorder(request).read_bytes(sid, INDEX_FILE)
    return web.Response(body=data, content_type="application/octet-stream")


async def recording_data(request: web.Request) -> web.Response:
    """``GET /recordings/{session_id}/data?replay=&start=&end=``: recording bytes."""
    sid = request.match_info["session_id"]
    _replay(request, sid)
    q = request.query
    try:
        start = int(q.get("start", "0"))
        end = int(q["end"]) if "end" in q else None
    except ValueError:
        raise InvalidField("start", "start and end must be integers") from None
    if start < 0 or (end is not None and (end < start or end - start > MAX_CHUNK)):
        raise InvalidField("end", f"need 0 <= start <= end, at most {MAX_CHUNK} bytes")
    data = _recorder(request).read_bytes(sid, RECORDING_FILE, start, end)
    return web.Response(body=data, content_type="application/octet-stream")


async def save_review(request: web.Request) -> web.Response:
    """``POST /review/sessions/{session_id}/reviews``: score the engineer."""
    session = await _session(request)
    body = await read_body(
        request, allowed={"overall", "competence", "notes"}, required={"overall", "competence"}
    )
    overall = body.opt_int("overall", low=1, high=5)
    competence = body.opt_int("competence", low=1, high=5)
    notes = body.opt_text("notes", max_len=4000) or ""
    if overall is None or competence is None:
        raise InvalidField("overall", "overall and competence are required (1-5)")
    if session.state != "ended":
        raise InvalidField("session_id", "only ended sessions are reviewed")
    if session.engineer_id is None:
        # Nobody answered (killed or timed out in the queue): there is no work to score.
        raise InvalidField("session_id", "no engineer joined this session; nothing to score")
    user = request[USER]
    review = await rq.save_review(
        request.app[DB],
        session.id,
        user.id,
        overall=overall,
        competence=competence,
        notes=notes,
        at_ms=request.app[CLOCK].now_ms(),
    )
    return web.json_response(_review_json(review), status=201)


async def dashboard(request: web.Request) -> web.Response:
    """``GET /review/dashboard?since=&until=``: per-engineer figures."""
    q = Query(request, {"since", "until"})
    since = _opt_int(q, "since", 0, 2**53)
    until = _opt_int(q, "until", 0, 2**53)
    figures = await rq.engineer_figures(request.app[DB], since_ms=since, until_ms=until)
    return web.json_response(
        {
            "engineers": [
                {
                    "engineer_id": f.engineer_id,
                    "name": f.name,
                    "sessions": f.sessions,
                    "avg_time_to_answer_s": None
                    if f.avg_time_to_answer_ms is None
                    else f.avg_time_to_answer_ms / 1000,
                    "avg_duration_s": None
                    if f.avg_duration_ms is None
                    else f.avg_duration_ms / 1000,
                    "avg_rating": f.avg_rating,
                    "ratings": f.ratings,
                    "avg_overall": f.avg_overall,
                    "avg_competence": f.avg_competence,
                    "scores": f.scores,
                }
                for f in figures
            ]
        }
    )


def _evidence_paths(request: web.Request, sid: str) -> tuple[Path, Path]:
    data_dir = request.app[CONFIG].data_dir
    if not (session_dir(data_dir, sid) / "log.jsonl").is_file():
        raise NotFound("no session log for this session")
    return data_dir, data_dir / "ca" / "root.pem"


async def download_evidence(request: web.Request) -> web.Response:
    """``GET /review/sessions/{session_id}/evidence``: the evidence bundle (ZIP), for an
    expert or a court; the export is itself logged (``log.exported``) and signed."""
    session = await _session(request)
    data_dir, _ = _evidence_paths(request, session.id)
    user = request[USER]
    pki = request.app[PKI]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "evidence.zip"
        await asyncio.to_thread(
            export_bundle,
            data_dir,
            session.id,
            out,
            now_ms=request.app[CLOCK].now_ms(),
            actor=f"user:{user.id}",
            signing_key=pki.signing_key,
            signing_key_id=pki.signing_key_id,
        )
        body = out.read_bytes()
    return web.Response(
        body=body,
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{session.id}.zip"'},
    )


async def verify_evidence(request: web.Request) -> web.Response:
    """``GET /review/sessions/{session_id}/verify``: verify the session's evidence as
    ``clearpane audit verify`` would, against the organisation root."""
    session = await _session(request)
    data_dir, root = _evidence_paths(request, session.id)

    def run() -> BundleReport:
        with tempfile.TemporaryDirectory() as tmp:
            out = export_bundle(data_dir, session.id, Path(tmp) / "evidence.zip")
            return verify_bundle(out, ca=root, signer_check=verify_checkpoint_signer)

    report = await asyncio.to_thread(run)
    return web.json_response(
        {
            "ok": report.ok,
            "text": str(report),
            "records": report.records,
            "sealed_seq": report.sealed_seq,
            "review_records": report.review_records,
            "findings": [
                {
                    "file": f.file,
                    "line": f.line,
                    "seq": f.seq,
                    "reason": f.reason,
                    "message": f.message,
                }
                for f in report.findings
            ],
        }
    )


ROUTES: tuple[tuple[str, str, Handler, frozenset[str]], ...] = (
    ("GET", "/review/sessions", list_review_sessions, READERS),
    ("GET", "/review/dashboard", dashboard, REVIEWERS),
    ("POST", "/review/sessions/{session_id}/reviews", save_review, REVIEWERS),
    ("GET", "/review/sessions/{session_id}/evidence", download_evidence, REVIEWERS),
    ("GET", "/review/sessions/{session_id}/verify", verify_evidence, REVIEWERS),
    ("GET", "/recordings/{session_id}", open_replay, READERS),
    ("GET", "/recordings/{session_id}/index", recording_index, READERS),
    ("GET", "/recordings/{session_id}/data", recording_data, READERS),
)


def setup_review_routes(app: web.Application) -> None:
    """Register the review routes (behind the role guard) and the recorder's cleanup
    context. Call after the PKI context is added (the recorder signs with its key)."""
    app[_REPLAYS] = {}
    app.cleanup_ctx.append(recording_ctx)
    for method, path, handler, roles in ROUTES:
        app.router.add_route(method, API_PREFIX + path, guard(handler, roles))
