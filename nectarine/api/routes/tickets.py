"""Handoff: a prefilled ticket draft, its submission (idempotent per session), and reading it back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException
from fastapi import Path as PathParam

from ...handoff.draft import TicketDraft
from ...errors import IdempotencyConflict
from ..deps import AsAdmin, Nec, Other, OtherByAddress, Rt, in_handoff_threads
from ..schemas import ERRORS, DraftRequest, Problem, SubmitRequest, TicketResponse, TicketView

router = APIRouter()


def invalid(where: list[str], message: str) -> HTTPException:
    """A 422 in the same shape as FastAPI's own validation errors, so clients read one format."""
    return HTTPException(422, [{"loc": where, "msg": message, "type": "value_error"}])


@router.post("/v1/tickets/draft", response_model=TicketDraft, responses=ERRORS)
async def draft(body: DraftRequest, n: Nec, rt: Rt, _who: Other) -> TicketDraft:
    conversation = [m.model_dump() for m in body.conversation]
    try:
        result = await in_handoff_threads(rt, n.draft_ticket, conversation, body.context, body.attachments)
    except ValueError as exc:
        raise invalid(["body"], str(exc)) from None
    rt.metrics.tickets.labels("drafted", result.priority).inc()
    return result


@router.post("/v1/tickets", response_model=TicketResponse, status_code=201, responses={409: {"model": Problem}, **ERRORS})
async def submit(body: SubmitRequest, n: Nec, rt: Rt, _who: Other,
           idempotency_key: Annotated[str, Header(min_length=1, max_length=128)]) -> TicketResponse:
    """Submit a reviewed draft. The ``Idempotency-Key`` is scoped to the draft's session: the same key with
    the same content returns the same ticket (a double click makes one); with other content, 409."""
    ticket = TicketDraft.model_validate(body.draft.model_dump())
    try:
        ticket = ticket.with_priority(body.priority) if body.priority else ticket
    except ValueError as exc:
        raise invalid(["body", "priority"], str(exc)) from None
    try:
        row = await in_handoff_threads(rt, n.submit_ticket, ticket, idempotency_key, sinks=tuple(rt.sinks) or ("default",))
    except IdempotencyConflict as exc:
        raise HTTPException(409, str(exc)) from None
    rt.metrics.tickets.labels("submitted", row.priority).inc()
    return TicketResponse(id=row.id, status=row.status, priority=row.priority, title=row.title)


@router.get("/v1/tickets/{ticket_id}", response_model=TicketView,
            responses={404: {"model": Problem}, 429: {"model": Problem}, 503: {"model": Problem}})
def get_ticket(ticket_id: Annotated[str, PathParam(max_length=64)], n: Nec, _who: OtherByAddress, as_admin: AsAdmin,
               x_session_id: Annotated[str | None, Header(max_length=64)] = None) -> TicketView:
    row = n.get_ticket(ticket_id)
    # A ticket is visible only to the session that created it, or to an admin.
    if row is None or not (as_admin or (x_session_id and row.session_id == x_session_id)):
        raise HTTPException(404, "no such ticket for this session")
    return TicketView(id=row.id, status=row.status, priority=row.priority, title=row.title, draft=TicketDraft.model_validate(row.draft))
