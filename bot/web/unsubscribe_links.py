"""The contact's page behind the unsubscribe link in every win-back and nurture message: one button that
stops every message to them (``crm_core.outreach.winback.unsubscribe``). The secret in the link is the only
key; a GET only shows the page (mail scanners follow links), the button — or a mail client's one-click
List-Unsubscribe POST — records it."""

from typing import Annotated

from fastapi import FastAPI, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from crm_core.db import unit_of_work
from crm_core.errors import NotFound
from crm_core.models import Outreach
from crm_core.outreach import winback

Token = Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

TEXTS = {
    "en": {
        "title": "No more messages",
        "ask": "Do you want to stop receiving messages from us?",
        "button": "Yes, send me nothing more",
        "done": "Done: we will not write to you again.",
        "missing": "This link is not known: it may be mistyped, or your data was erased.",
    },
    "es": {
        "title": "No más mensajes",
        "ask": "¿Quieres dejar de recibir mensajes nuestros?",
        "button": "Sí, no me enviéis nada más",
        "done": "Hecho: no volveremos a escribirte.",
        "missing": "No conocemos este enlace: puede que esté mal copiado o que tus datos se hayan borrado.",
    },
}


def _language(token: str) -> str | None:
    with unit_of_work() as session:
        language = session.scalar(select(Outreach.language).where(Outreach.token == token))
    return None if language is None else (language if language in TEXTS else "en")


def install(app: FastAPI, templates: Jinja2Templates) -> None:
    def page(request: Request, token: str, lang: str | None, done: bool, status: int = 200) -> HTMLResponse:
        context = {"t": TEXTS[lang or "en"], "lang": lang or "en", "token": token, "done": done}
        context["missing"] = lang is None
        return templates.TemplateResponse(
            request, "unsubscribe.html", context, status_code=404 if lang is None else status
        )

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
    def ask(request: Request, token: Token) -> HTMLResponse:
        return page(request, token, _language(token), done=False)

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe(request: Request, token: Token) -> HTMLResponse:
        try:
            with unit_of_work(author="the contact (unsubscribe link)") as session:
                row = winback.unsubscribe(session, token)
                lang = row.language if row.language in TEXTS else "en"
        except NotFound:
            return page(request, token, None, done=False)
        return page(request, token, lang, done=True)
