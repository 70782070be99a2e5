"""Quality review: reviewer scores per session, and the figures of the dashboard.

Ratings from the client live on the session row (``sessions.rating_score``); reviewers'
scores live here, one row per (session, reviewer) — a reviewer who scores again
replaces their earlier score. Scores are 1–5 for ``overall`` and ``competence``.
Only broker/store/ touches the models; the API calls the query functions below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.db import Database
from broker.store.models import Base, SessionModel, UserModel
from broker.store.queries import SessionInfo, new_id

__all__ = [
    "EngineerFigures",
    "Review",
    "ReviewModel",
    "engineer_figures",
    "reviews_for",
    "save_review",
]


class ReviewModel(Base):
    """A reviewer's score of one session."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("session_id", "reviewer_id", name="uq_reviews_session_reviewer"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    overall: Mapped[int] = mapped_column(Integer)
    competence: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class Review:
    """A reviewer's score, with the reviewer's name."""

    id: str
    session_id: str
    reviewer_id: str
    reviewer_name: str
    overall: int
    competence: int
    notes: str
    created_at_ms: int


async def save_review(
    db: Database,
    session_id: str,
    reviewer_id: str,
    *,
    overall: int,
    competence: int,
    notes: str,
    at_ms: int,
) -> Review:
    """Insert or replace ``reviewer_id``'s score of ``session_id`` (values checked by
    the caller: 1–5, notes ≤ 4,000 characters)."""
    async with db.sessions() as s, s.begin():
        row = await s.scalar(
            select(ReviewModel).where(
                ReviewModel.session_id == session_id, ReviewModel.reviewer_id == reviewer_id
            )
        )
        if row is None:
            row = ReviewModel(id=new_id(), session_id=session_id, reviewer_id=reviewer_id)
            s.add(row)
        row.overall = overall
        row.competence = competence
        row.notes = notes
        row.created_at_ms = at_ms
        user = await s.get(UserModel, reviewer_id)
        name = user.name if user is not None else reviewer_id
        return Review(row.id, session_id, reviewer_id, name, overall, competence, notes, at_ms)


async def reviews_for(db: Database, session_ids: Sequence[str]) -> dict[str, list[Review]]:
    """Every review of the given sessions, by session id."""
    out: dict[str, list[Review]] = {sid: [] for sid in session_ids}
    if not session_ids:
        return out
    query = (
        select(ReviewModel, UserModel.name)
        .join(UserModel, UserModel.id == ReviewModel.reviewer_id)
        .where(ReviewModel.session_id.in_(list(session_ids)))
        .order_by(ReviewModel.created_at_ms)
    )
    async with db.sessions() as s:
        for row, name in (await s.execute(query)).all():
            out[row.session_id].append(
                Review(
                    row.id,
                    row.session_id,
                    row.reviewer_id,
                    name,
                    row.overall,
                    row.competence,
                    row.notes,
                    row.created_at_ms,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class EngineerFigures:
    """Dashboard figures for one engineer over the chosen period."""

    engineer_id: str
    name: str
    sessions: int
    avg_time_to_answer_ms: float | None
    avg_duration_ms: float | None
    avg_rating: float | None
    ratings: int
    avg_overall: float | None
    avg_competence: float | None
    scores: int


def _avg(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


async def engineer_figures(
    db: Database, *, since_ms: int | None = None, until_ms: int | None = None
) -> list[EngineerFigures]:
    """Per-engineer figures over sessions created in ``[since_ms, until_ms)``: count,
    average time to answer, average duration (answer to end), client ratings and
    reviewer scores. Sorted by engineer name."""
    query = select(SessionModel, UserModel.name).join(
        UserModel, UserModel.id == SessionModel.engineer_id
    )
    if since_ms is not None:
        query = query.where(SessionModel.created_at_ms >= since_ms)
    if until_ms is not None:
        query = query.where(SessionModel.created_at_ms < until_ms)
    async with db.sessions() as s:
        rows = (await s.execute(query)).all()
        sids = [r[0].id for r in rows]
        scores: dict[str, list[tuple[int, int]]] = {}
        if sids:
            for review in await s.scalars(
                select(ReviewModel).where(ReviewModel.session_id.in_(sids))
            ):
                scores.setdefault(review.session_id, []).append((review.overall, review.competence))
    per: dict[str, dict[str, list[float]]] = {}
    names: dict[str, str] = {}
    for model, name in rows:
        eid = model.engineer_id
        assert eid is not None
        names[eid] = name
        bucket = per.setdefault(
            eid, {"n": [], "tta": [], "dur": [], "rating": [], "overall": [], "comp": []}
        )
        bucket["n"].append(1)
        if model.answered_at_ms is not None:
            bucket["tta"].append(model.answered_at_ms - model.created_at_ms)
            if model.ended_at_ms is not None:
                bucket["dur"].append(model.ended_at_ms - model.answered_at_ms)
        if model.rating_score is not None:
            bucket["rating"].append(model.rating_score)
        for overall, competence in scores.get(model.id, []):
            bucket["overall"].append(overall)
            bucket["comp"].append(competence)
    return sorted(
        (
            EngineerFigures(
                engineer_id=eid,
                name=names[eid],
                sessions=len(b["n"]),
                avg_time_to_answer_ms=_avg(b["tta"]),
                avg_duration_ms=_avg(b["dur"]),
                avg_rating=_avg(b["rating"]),
                ratings=len(b["rating"]),
                avg_overall=_avg(b["overall"]),
                avg_competence=_avg(b["comp"]),
                scores=len(b["overall"]),
            )
            for eid, b in per.items()
        ),
        key=lambda f: (f.name, f.engineer_id),
    )


def session_ids(sessions: Sequence[SessionInfo]) -> list[str]:
    """The ids of ``sessions`` (a small helper for the API)."""
    return [s.id for s in sessions]
