"""Console pages: Jinja2 templates (autoescaped) with the signed-in user, the CSRF token and flash message."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from bot.web.console.numbers import DEFAULT_LOCALE, format_amount, viewer_locale
from bot.web.console.security import FLASH_COOKIE, FlashKind, flash, read_flash

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES_DIR)


@pass_context
def _when(context: Context, value: datetime | date | None) -> str:
    """A time in the viewer's time zone (a rep's own; UTC otherwise), with the zone named."""
    if value is None:
        return "–"
    if not isinstance(value, datetime):
        return value.isoformat()
    user = context.get("user")
    zone = ZoneInfo(user.timezone) if user is not None else UTC
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or str(zone))


@pass_context
def _money(context: Context, value: Decimal | None, currency: str | None = None) -> str:
    """An amount as the viewer writes numbers (their browser's locale), with its currency code."""
    if value is None:
        return "–"
    request = context.get("request")
    locale = viewer_locale(request) if request is not None else DEFAULT_LOCALE
    return f"{format_amount(value, locale)} {currency or ''}".strip()


@pass_context
def _amount(context: Context, value: Decimal) -> str:
    """An amount to put back in a form field: the viewer's own notation, so that it reads back the same."""
    request = context.get("request")
    return format_amount(value, viewer_locale(request) if request is not None else DEFAULT_LOCALE)


def _segment(value: str) -> str:
    """A value as one URL path segment: every character that is not a letter, digit or ``-._~`` quoted,
    ``/`` and ``%`` included, so a sender id like ``a/../b`` stays one segment (routes take it with
    ``{sender_id:path}``, as Starlette decodes ``%2F`` before routing)."""
    return quote(value, safe="")


templates.env.filters["segment"] = _segment
templates.env.filters["when"] = _when
templates.env.filters["money"] = _money
templates.env.filters["amount"] = _amount


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """A console page. The user and CSRF token come from the session (``current_user`` put them on
    ``request.state``); a pending flash message is shown once and then forgotten."""
    signed_in = getattr(request.state, "signed_in", None)
    message = read_flash(request)
    page = {
        "user": signed_in.user if signed_in else None,
        "csrf_token": signed_in.csrf_token if signed_in else "",
        "flash": message,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, page, status_code=status_code)
    if message is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(
    request: Request, url: str, message: str | None = None, kind: FlashKind = "ok"
) -> RedirectResponse:
    """See other (303) after a form, with an optional message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(request, response, message, kind)
    return response
