"""The visitor's page behind the link in their invitation: see the meeting, cancel it, or move it to
another free time of the same rep. The secret in the link is the only key
(``crm_core.scheduling.meetings.by_link``); the page speaks the lead's language and shows times in the zone
the visitor booked in."""

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from crm_core.db import unit_of_work
from crm_core.errors import CrmError, NotFound
from crm_core.models import Lead
from crm_core.scheduling import meetings
from crm_core.scheduling.invitations import when_text

Token = Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

TEXTS = {
    "en": {
        "title": "Your meeting",
        "booked": "Your meeting with {rep} is booked for {when}.",
        "cancelled": "This meeting was cancelled.",
        "cancel": "Cancel the meeting",
        "move": "Move it to another time:",
        "none": "No other free time in the next days: write to us in the chat.",
        "moved": "Moved. We sent you an updated invitation.",
        "gone": "Cancelled. We sent you a cancellation for your calendar.",
        "missing": "This link does not name a meeting: it may be mistyped.",
    },
    "es": {
        "title": "Tu reunión",
        "booked": "Tu reunión con {rep} está reservada para el {when}.",
        "cancelled": "Esta reunión se canceló.",
        "cancel": "Cancelar la reunión",
        "move": "Cambiarla a otra hora:",
        "none": "No hay otra hora libre en los próximos días: escríbenos en el chat.",
        "moved": "Cambiada. Te enviamos una invitación actualizada.",
        "gone": "Cancelada. Te enviamos la cancelación para tu calendario.",
        "missing": "Este enlace no corresponde a ninguna reunión: puede que esté mal copiado.",
    },
}


def _page(
    templates: Jinja2Templates, request: Request, token: str, notice: str = "", status: int = 200
) -> HTMLResponse:
    with unit_of_work() as session:
        try:
            meeting = meetings.by_link(session, token)
        except NotFound:
            return templates.TemplateResponse(
                request, "meeting.html", {"t": TEXTS["en"], "missing": True, "lang": "en"}, status_code=404
            )
        lead = session.get(Lead, meeting.lead_id)
        lang = lead.language if lead is not None and lead.language in TEXTS else "en"
        rep = lead.assigned_rep.name if lead is not None and lead.assigned_rep is not None else ""
        booked = meeting.status == "booked"
        options = meetings.move_options(session, meeting.id) if booked else []
    shown = [(s.isoformat(), when_text(s, meeting.visitor_timezone, lang)) for s in options]
    t = TEXTS[lang]
    context = {
        "t": t,
        "lang": lang,
        "missing": False,
        "booked": booked,
        "summary": t["booked"].format(
            rep=rep, when=when_text(meeting.starts_at, meeting.visitor_timezone, lang)
        ),
        "options": shown,
        "token": token,
        "notice": notice,
    }
    return templates.TemplateResponse(request, "meeting.html", context, status_code=status)


def install(app: FastAPI, templates: Jinja2Templates) -> None:
    @app.get("/meetings/{token}", response_class=HTMLResponse, include_in_schema=False)
    def meeting_page(request: Request, token: Token, done: str = "") -> HTMLResponse:
        return _page(templates, request, token, notice={"moved": "moved", "cancelled": "gone"}.get(done, ""))

    @app.post("/meetings/{token}/cancel", include_in_schema=False, response_model=None)
    def cancel(request: Request, token: Token) -> Response:
        try:
            with unit_of_work(author="the visitor (meeting link)") as session:
                meeting = meetings.by_link(session, token)
                meetings.cancel(session, meeting.id)
        except CrmError as error:
            return _page(templates, request, token, notice=str(error), status=409)
        return RedirectResponse(f"/meetings/{token}?done=cancelled", status_code=303)

    @app.post("/meetings/{token}/move", include_in_schema=False, response_model=None)
    def move(request: Request, token: Token, starts_at: Annotated[str, Form(max_length=40)]) -> Response:
        try:
            when = datetime.fromisoformat(starts_at)
        except ValueError:
            return _page(templates, request, token, notice=f"'{starts_at}' is not a time.", status=422)
        try:
            with unit_of_work(author="the visitor (meeting link)") as session:
                meeting = meetings.by_link(session, token)
                meetings.reschedule(session, meeting.id, when)
        except CrmError as error:
            return _page(templates, request, token, notice=str(error), status=409)
        return RedirectResponse(f"/meetings/{token}?done=moved", status_code=303)
