"""The console for reps and admins: server-rendered pages under /console, sign-in at /login.

For new console pages (the admin half builds on this):

- ``router = APIRouter(prefix="/console/...")`` and add it in ``install`` below.
- Take the user as a parameter: ``user: CurrentUser`` (any signed-in user), ``RepOrAdmin`` or
  ``AdminUser`` (403 for reps). Anonymous visitors are redirected to /login. Changing requests
  (POST/PUT/PATCH/DELETE) are refused with 403 unless the form carries ``csrf_token`` (every template gets
  it: ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``) or the ``X-CSRF-Token`` header.
- Reach leads and transcripts only through ``lead_for`` / ``transcript_for`` (or ``crm_core.people.users``'s
  ``visible_*`` functions): another rep's lead is then a 404, never a leak.
- ``render(request, "console/page.html", {...})`` extends ``console/base.html`` (nav, flash, logout);
  ``redirect(request, url, "message")`` after a form. ``console/_transcript.html`` shows a transcript.
- Pages are served with a Content-Security-Policy of ``'self'`` only: scripts and styles come from
  /static files (no inline ``<script>``, ``<style>`` or ``style=""``), nothing from a CDN.
"""

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.web.console import (
    admin_kpis,
    admin_privacy,
    admin_rules,
    admin_transcripts,
    auth,
    inbox,
    live,
    worklists,
)
from bot.web.console.auth import (
    AdminUser,
    CurrentUser,
    LoginRequired,
    RepOrAdmin,
    current_user,
    require_admin,
    require_rep_or_admin,
)
from bot.web.console.inbox import lead_for, transcript_for
from bot.web.console.rendering import redirect, render, templates
from bot.web.headers import CONSOLE_PATHS

__all__ = [
    "AdminUser",
    "CurrentUser",
    "RepOrAdmin",
    "current_user",
    "install",
    "lead_for",
    "redirect",
    "render",
    "require_admin",
    "require_rep_or_admin",
    "templates",
    "transcript_for",
]


def _is_console(request: Request) -> bool:
    return request.url.path.startswith(CONSOLE_PATHS)


def install(app: FastAPI) -> None:
    """Add the console's routes and its error pages (its security headers: ``bot.web.headers``)."""
    app.include_router(auth.router, include_in_schema=False)
    app.include_router(inbox.router, include_in_schema=False)
    app.include_router(worklists.router, include_in_schema=False)
    app.include_router(live.router, include_in_schema=False)
    app.include_router(admin_transcripts.router, include_in_schema=False)
    app.include_router(admin_privacy.router, include_in_schema=False)
    app.include_router(admin_kpis.router, include_in_schema=False)
    app.include_router(admin_rules.router, include_in_schema=False)

    @app.exception_handler(LoginRequired)
    def to_login(request: Request, _error: LoginRequired) -> Response:
        return RedirectResponse(auth.login_url(request), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if not _is_console(request):
            return await http_exception_handler(request, error)
        return render(
            request,
            "console/error.html",
            {"status": error.status_code, "detail": error.detail},
            error.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> Response:
        if not _is_console(request):
            return await request_validation_exception_handler(request, error)
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'][1:])) or 'request'}: {e['msg']}" for e in error.errors()
        )
        return render(request, "console/error.html", {"status": 422, "detail": problems}, 422)
