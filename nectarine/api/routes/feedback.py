"""Thumbs up or down on an answer, by the session that asked it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from ..deps import Nec, Other, Rt
from ..schemas import ERRORS, FeedbackRequest, Problem

router = APIRouter()


@router.post("/v1/feedback", status_code=204, responses={404: {"model": Problem}, **ERRORS})
def feedback(body: FeedbackRequest, n: Nec, rt: Rt, _who: Other) -> None:
    try:
        n.conversations.record_feedback(body.turn_id, body.helpful, body.comment, session_id=body.session_id)
    except KeyError:
        raise HTTPException(404, "no answer with this turn_id in this session") from None
    rt.metrics.feedback.labels("helpful" if body.helpful else "unhelpful").inc()
