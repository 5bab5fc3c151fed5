"""Privacy for admins: find the person a request is about, erase them, purge old unqualified
conversations, and read the audit log of erasures (who, when, how many rows — never the data)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bot.web.console.auth import AdminUser
from bot.web.console.rendering import redirect, render
from crm_core.config import get_settings
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, NotFound
from crm_core.limits import Id, as_number
from crm_core.people import privacy

router = APIRouter(prefix="/console/admin/privacy")


def _counts(audit: privacy.ErasureOut) -> str:
    return ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in audit.counts.items() if count)


def _page(request: Request, q: str = "", problem: str | None = None, status_code: int = 200) -> HTMLResponse:
    found: list[privacy.ContactRef] = []
    with unit_of_work() as session:
        if q.strip() and problem is None:
            try:
                found = privacy.find_contacts(session, q)
            except CrmError as error:
                problem, status_code = str(error), 422
        log = privacy.erasures(session)
    return render(
        request,
        "console/admin_privacy.html",
        {
            "q": q,
            "found": found,
            "log": log,
            "problem": problem,
            "retention_days": get_settings().retention_days,
            "counts": _counts,
        },
        status_code,
    )


@router.get("", response_class=HTMLResponse)
def privacy_page(request: Request, user: AdminUser, q: str = "") -> HTMLResponse:
    return _page(request, q)


@router.post("/contacts/{contact_id}/erase")
def erase(
    request: Request,
    user: AdminUser,
    contact_id: Id,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Erase a contact in one transaction; the audit names the admin who did it."""
    try:
        with unit_of_work() as session:
            audit = privacy.erase_contact(
                session, contact_id, user.email, get_settings().events_url, reason=reason.strip() or None
            )
    except CrmError as error:
        return _page(request, problem=str(error), status_code=404 if isinstance(error, NotFound) else 422)
    return redirect(request, "/console/admin/privacy", f"Contact #{contact_id} erased: {_counts(audit)}.")


@router.post("/purge")
def purge(request: Request, user: AdminUser, days: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Run the retention purge now (``embudo privacy purge`` does the same from cron)."""
    period = as_number(days, high=36_500) if days.strip() else get_settings().retention_days
    if period is None:
        return _page(request, problem=f"'{days}' is not a number of days (0 to 36500).", status_code=422)
    try:
        with unit_of_work() as session:
            audit = privacy.purge_never_qualified(session, period, get_settings().events_url)
    except CrmError as error:
        return _page(request, problem=str(error), status_code=422)
    message = f"Purged: {_counts(audit)}." if audit else "Nothing was old enough to purge."
    return redirect(request, "/console/admin/privacy", message)
