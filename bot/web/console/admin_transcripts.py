"""Admins' transcripts: every conversation of every channel, filtered and paged; one transcript with the
bot's understanding of it; CSV/JSON export of one, some or all matching; drop-off per form question."""

from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import distinct, select

from bot.web.console.admin_charts import Bar, bar_chart, percent
from bot.web.console.auth import AdminUser
from bot.web.console.rendering import render
from crm_core.chats import transcript_search as search
from crm_core.chats.transcripts import MessageOut, TranscriptOut
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, InvalidInput, NotFound, explain
from crm_core.limits import FIRST_DAY, LAST_DAY, Id, Page, as_number
from crm_core.models import Conversation, Lead, Qualification, Rep, Temperature

router = APIRouter(prefix="/console/admin/transcripts")

FILTER_FIELDS = (
    "since",
    "until",
    "channel",
    "qualification",
    "temperature",
    "rep",
    "source",
    "language",
    "q",
)


def _typed(request: Request) -> dict[str, str]:
    """What the admin typed in the filter form, as typed (shown again in the form)."""
    params = request.query_params
    typed = {name: params.get(name, "").strip() for name in FILTER_FIELDS}
    typed["slots"] = params.get("slots", "")
    return typed


def _day(text: str, label: str, problems: list[str]) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems.append(f"{label} must be a date like 2026-01-31, not '{text}'.")
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        problems.append(f"{label} must be a date between {FIRST_DAY.year} and {LAST_DAY.year}.")
        return None
    return day


def filter_of(typed: dict[str, str]) -> search.TranscriptFilter:
    """The filter the form describes; InvalidInput names every problem with it at once."""
    problems: list[str] = []
    since, until = _day(typed["since"], "From", problems), _day(typed["until"], "To", problems)
    if typed["rep"] and as_number(typed["rep"], low=1) is None:
        problems.append(f"Unknown rep '{typed['rep']}'.")
    conditions = []
    for line in filter(str.strip, typed["slots"].splitlines()):
        try:
            conditions.append(search.SlotCondition.parse(line))
        except InvalidInput as error:
            problems.append(str(error))
    if problems:
        raise InvalidInput(" ".join(problems))
    try:
        return search.TranscriptFilter(
            since=since,
            until=until,
            channel=typed["channel"] or None,
            qualification=typed["qualification"] or None,
            temperature=typed["temperature"] or None,
            rep_id=as_number(typed["rep"], low=1) if typed["rep"] else None,
            source=typed["source"] or None,
            language=typed["language"] or None,
            text=typed["q"] or None,
            slots=conditions,
        )
    except ValidationError as error:
        details = explain(error)
        raise InvalidInput(f"Cannot read the filters: {details}.") from None


def _choices() -> dict[str, Any]:
    with unit_of_work() as session:
        channels = sorted(session.scalars(select(distinct(Conversation.channel))))
        sources = sorted(s for s in session.scalars(select(distinct(Lead.source))) if s)
        languages = sorted(s for s in session.scalars(select(distinct(Lead.language))) if s)
        reps = [
            (str(rep_id), name)
            for rep_id, name in session.execute(select(Rep.id, Rep.name).order_by(Rep.name))
        ]
    return {
        "channels": channels,
        "sources": sources,
        "languages": languages,
        "reps": reps,
        "qualifications": [q.value for q in Qualification],
        "temperatures": [t.value for t in Temperature],
    }


def _query(typed: dict[str, str], **extra: str | int) -> str:
    kept = {name: value for name, value in typed.items() if value}
    return urlencode({**kept, **{name: str(value) for name, value in extra.items()}})


@router.get("", response_class=HTMLResponse)
def transcript_list(request: Request, user: AdminUser, page: Page = 1) -> HTMLResponse:
    typed = _typed(request)
    problem, found = None, None
    try:
        wanted = filter_of(typed)
        with unit_of_work() as session:
            found = search.search_transcripts(session, wanted, page=max(page, 1))
    except CrmError as error:
        problem = str(error)
    return render(
        request,
        "console/admin_transcripts.html",
        {
            "typed": typed,
            "found": found,
            "problem": problem,
            "choices": _choices(),
            "query": lambda **extra: _query(typed, **extra),
        },
        422 if problem else 200,
    )


@router.get("/dropoff", response_class=HTMLResponse)
def dropoff_page(request: Request, user: AdminUser, idle_minutes: int = 30) -> HTMLResponse:
    """Where visitors abandon the form: per question, conversations that reached it and left there."""
    typed = _typed(request)
    problem, rows = None, []
    try:
        wanted = filter_of(typed)
        with unit_of_work() as session:
            rows = search.drop_off(session, wanted, idle_minutes=max(1, idle_minutes))
    except CrmError as error:
        problem = str(error)
    chart = bar_chart(
        "Conversations abandoned at each form question",
        [
            Bar(row.question, row.abandoned, f"{row.abandoned} of {row.reached} ({percent(row.rate)})")
            for row in rows
        ],
    )
    return render(
        request,
        "console/admin_dropoff.html",
        {
            "typed": typed,
            "rows": rows,
            "chart": chart,
            "problem": problem,
            "idle_minutes": idle_minutes,
            "percent": percent,
            "query": _query(typed),
        },
        422 if problem else 200,
    )


@router.get("/export")
def export(
    request: Request,
    user: AdminUser,
    format: str = "csv",
    ids: Annotated[list[int] | None, Query()] = None,
) -> Response:
    """The chosen transcripts (``ids``), or every one the filters match, as CSV or JSON."""
    if format not in ("csv", "json"):
        raise HTTPException(422, f"Unknown format '{format}': use csv or json.")
    try:
        with unit_of_work() as session:
            chosen = ids or search.matching_conversation_ids(session, filter_of(_typed(request)))
            body = (
                search.export_json(session, chosen)
                if format == "json"
                else search.export_csv(session, chosen)
            )
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    except CrmError as error:
        raise HTTPException(422, str(error)) from None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"transcript-{chosen[0]}" if len(chosen) == 1 else f"transcripts-{stamp}"
    media = "application/json" if format == "json" else "text/csv; charset=utf-8"
    headers = {"Content-Disposition": f'attachment; filename="{name}.{format}"'}
    return Response(body, media_type=media, headers=headers)


@router.get("/{conversation_id}", response_class=HTMLResponse)
def transcript_view(request: Request, user: AdminUser, conversation_id: Id) -> HTMLResponse:
    """One conversation: messages with intent and confidence, slots, class and reasons, routing history."""
    with unit_of_work() as session:
        try:
            detail = search.transcript_detail(session, conversation_id)
        except NotFound as error:
            raise HTTPException(404, str(error)) from None
    transcript = TranscriptOut(
        channel=detail.channel,
        sender_id=detail.sender_id,
        lead_id=detail.lead.id if detail.lead else None,
        slots=detail.slots,
        messages=[
            MessageOut(
                role=m.role,
                text=m.text,
                intent=m.intent,
                confidence=m.confidence,
                sent_at=m.sent_at,
                extra={"buttons": m.buttons} if m.buttons else {},
            )
            for m in detail.messages
        ],
    )
    return render(request, "console/admin_transcript.html", {"detail": detail, "transcript": transcript})
