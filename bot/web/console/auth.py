"""Signing in and out, and the dependencies every console page uses.

- ``current_user``: the signed-in user, or a redirect to /login. On every request that may change
  something (POST, PUT, PATCH, DELETE) it also checks the session's CSRF token, sent as the form field
  ``csrf_token`` or the ``X-CSRF-Token`` header, so no console form can forget it.
- ``require_admin`` (403 for reps) and ``require_rep_or_admin``.
- The login form has its own CSRF token (a signed double-submit cookie), since there is no session yet.
"""

import hmac
import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.web.console.password_checks import QueueFull, password_checks
from bot.web.console.rendering import redirect, render
from bot.web.console.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    console_settings,
    set_cookie,
    sign,
    unsign,
)
from crm_core.db import unit_of_work
from crm_core.errors import CrmError
from crm_core.models import UserRole
from crm_core.people import users
from crm_core.people.users import LoginLimits, SignedIn, TooManyAttempts, UserOut

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGN_INS_BUSY = "Too many sign-ins are being checked right now. Please try again in a few seconds."
CSRF_REFUSED = (
    "This form is out of date or did not come from this console (CSRF check failed): "
    "reload the page and try again. Nothing was changed."
)


class LoginRequired(Exception):
    """No live session: the handler installed by ``install`` redirects to /login."""


def _resume(token: str) -> SignedIn | None:
    with unit_of_work() as session:
        return users.resume_session(session, token)


async def current_user(request: Request) -> UserOut:
    """The signed-in user; refuses a changing request whose CSRF token does not match the session's."""
    token = request.cookies.get(SESSION_COOKIE)
    signed_in = await run_in_threadpool(_resume, token) if token else None
    if signed_in is None:
        raise LoginRequired()
    request.state.signed_in = signed_in
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token") or (await request.form()).get("csrf_token")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), signed_in.csrf_token.encode()):
            raise HTTPException(403, CSRF_REFUSED)
    return signed_in.user


CurrentUser = Annotated[UserOut, Depends(current_user)]


def require_admin(user: CurrentUser) -> UserOut:
    if not user.is_admin:
        raise HTTPException(403, "Only administrators may open this page.")
    return user


def require_rep_or_admin(user: CurrentUser) -> UserOut:
    if user.role not in (UserRole.ADMIN, UserRole.REP):
        raise HTTPException(403, "Your login has no role in the console.")
    return user


AdminUser = Annotated[UserOut, Depends(require_admin)]
RepOrAdmin = Annotated[UserOut, Depends(require_rep_or_admin)]


def safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme) is followed after signing in."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return "/console"
    return target


def _login_page(
    request: Request, next_url: str, status_code: int = 200, error: str | None = None, email: str = ""
) -> HTMLResponse:
    token = sign("login", secrets.token_urlsafe(24))
    response = render(
        request,
        "console/login.html",
        {"login_csrf": token, "next": next_url, "error": error, "email": email},
        status_code,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def _limits() -> LoginLimits:
    settings = console_settings()
    return LoginLimits(
        failures_per_account=settings.login_failures_per_account,
        failures_per_address=settings.login_failures_per_address,
        window=timedelta(minutes=settings.login_window_minutes),
        first_delay=timedelta(seconds=settings.login_delay_seconds),
        max_delay=timedelta(minutes=max(settings.login_delay_max_minutes, settings.login_delay_seconds / 60)),
    )


def _sign_in(email: str, password: str, address: str) -> str | None:
    """On a password-check thread: count the try (committed, so simultaneous tries see it), check the
    password outside any transaction, then record the outcome. A new session's token, or None."""
    with unit_of_work() as session:
        attempt = users.begin_login(session, email, address, limits=_limits())
    matches = users.password_matches(attempt, password)
    with unit_of_work() as session:
        user = users.finish_login(session, attempt, password, matches)
        if user is None:
            return None
        hours = console_settings().session_hours
        token, _ = users.start_session(session, user.id, lifetime=timedelta(hours=hours))
        return token


router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and _resume(token) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console",
) -> Response:
    """Check the password (with the brakes on repeated failures) and start a session. The check waits on
    the password-check threads, never on the server's own, so signed-in pages keep answering."""
    next_url = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (
        csrf_token and hmac.compare_digest(csrf_token.encode(), cookie.encode()) and unsign("login", cookie)
    ):
        return _login_page(request, next_url, 403, "The sign-in form had expired. Please try again.", email)
    address = request.client.host if request.client else "unknown"  # a trusted proxy's client: see app.py
    try:
        token = await password_checks().run(_sign_in, email, password, address)
    except (TooManyAttempts, QueueFull) as error:
        message = str(error) if isinstance(error, TooManyAttempts) else SIGN_INS_BUSY
        page = _login_page(request, next_url, 429, message, email)
        page.headers["Retry-After"] = str(error.retry_after_seconds)
        return page
    if token is None:
        return _login_page(request, next_url, 401, "Wrong e-mail or password.", email)
    response = RedirectResponse(next_url, status_code=303)
    max_age = int(console_settings().session_hours * 3600)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, _user: CurrentUser) -> Response:
    with unit_of_work() as session:
        users.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = redirect(request, "/login", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/console/account", response_class=HTMLResponse)
def account(request: Request, user: CurrentUser) -> HTMLResponse:
    return render(request, "console/account.html", {})


@router.post("/console/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    user: CurrentUser,
    current: Annotated[str, Form(max_length=4096)] = "",
    new: Annotated[str, Form(max_length=4096)] = "",
    repeat: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """Change one's own password; every other session of the user ends."""
    if new != repeat:
        return render(request, "console/account.html", {"error": "The two new passwords differ."}, 422)
    try:
        with unit_of_work() as session:
            users.change_password(session, user.id, current, new, request.cookies.get(SESSION_COOKIE))
    except CrmError as error:
        return render(request, "console/account.html", {"error": str(error)}, 422)
    return redirect(request, "/console/account", "Your password is changed; other sessions were signed out.")


def login_url(request: Request) -> str:
    """Where an anonymous visitor is sent: the login page, coming back to this page (GET only)."""
    if request.method != "GET":
        return "/login"
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='/')}"
