"""Rules and reps for admins: the reps routing chooses from, the qualification policy (validated,
versioned, in force for new leads, with the changes suggested from closed leads to accept or reject) and
the routing and SLA settings it works with."""

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from bot.web.console.auth import AdminUser
from bot.web.console.rendering import redirect, render
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, InvalidInput, NotFound, explain
from crm_core.limits import Id
from crm_core.models import SuggestionStatus
from crm_core.people import reps
from crm_core.qualification import policy_store, policy_suggestions
from crm_core.sales.pipeline import current_pipeline
from crm_core.schemas import NewRep, RepOut, RepUpdate

router = APIRouter(prefix="/console/admin")

Text = Annotated[str, Form(max_length=2000)]
POLICY_MAX = 100_000


def hours_text(hours: dict[str, list[str]]) -> str:
    """Working hours as the form and ``embudo reps`` write them: ``mon=09:00-17:00, tue=…``."""
    return ", ".join(f"{day}={span[0]}-{span[1]}" for day, span in hours.items())


def _codes(text: str) -> list[str]:
    return [code.strip() for code in text.split(",") if code.strip()]


def _capacity(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(f"Capacity must be a whole number of open leads, not '{text}'.") from None


def _reps_page(
    request: Request, problem: str | None = None, typed: dict[str, str] | None = None, status_code: int = 200
) -> HTMLResponse:
    with unit_of_work() as session:
        team = reps.list_reps(session)
    return render(
        request,
        "console/admin_reps.html",
        {"team": team, "hours_text": hours_text, "problem": problem, "typed": typed or {}},
        status_code,
    )


@router.get("/reps", response_class=HTMLResponse)
def reps_page(request: Request, user: AdminUser) -> HTMLResponse:
    return _reps_page(request)


@router.post("/reps")
def add_rep(
    request: Request,
    user: AdminUser,
    name: Text = "",
    email: Text = "",
    languages: Text = "",
    territories: Text = "",
    capacity: Text = "20",
    timezone: Text = "UTC",
    hours: Text = "",
) -> Response:
    typed = {"name": name, "email": email, "languages": languages, "territories": territories}
    typed |= {"capacity": capacity, "timezone": timezone, "hours": hours}
    try:
        new = NewRep(
            name=name,
            email=email or None,
            languages=_codes(languages),
            territories=_codes(territories),
            capacity=_capacity(capacity),
            timezone=timezone.strip() or "UTC",
            working_hours=reps.parse_hours(hours),
        )
        with unit_of_work() as session:
            added = reps.add_rep(session, new)
    except ValidationError as error:
        return _reps_page(request, f"The rep was not added: {explain(error)}.", typed, 422)
    except CrmError as error:
        return _reps_page(request, str(error), typed, 422)
    return redirect(request, "/console/admin/reps", f"Rep {added.name} added (#{added.id}).")


def _rep(rep_id: int) -> RepOut:
    with unit_of_work() as session:
        found = next((rep for rep in reps.list_reps(session) if rep.id == rep_id), None)
    if found is None:
        raise HTTPException(404, f"No rep with id {rep_id}.")
    return found


def _rep_page(
    request: Request, rep: RepOut, problem: str | None = None, typed: dict[str, Any] | None = None
) -> HTMLResponse:
    shown = typed or {
        "languages": ", ".join(rep.languages),
        "territories": ", ".join(rep.territories),
        "capacity": str(rep.capacity),
        "timezone": rep.timezone,
        "hours": hours_text(rep.working_hours),
        "active": rep.active,
        "is_admin": rep.is_admin,
        "caldav_url": rep.caldav_url or "",
        "caldav_user": rep.caldav_username or "",
        "away_until": rep.away_until.astimezone(ZoneInfo(rep.timezone)).date().isoformat()
        if rep.away_until
        else "",
    }
    return render(
        request,
        "console/admin_rep.html",
        {"rep": rep, "typed": shown, "problem": problem},
        422 if problem else 200,
    )


@router.get("/reps/{rep_id}", response_class=HTMLResponse)
def rep_page(request: Request, user: AdminUser, rep_id: Id) -> HTMLResponse:
    return _rep_page(request, _rep(rep_id))


@router.post("/reps/{rep_id}")
def update_rep(
    request: Request,
    user: AdminUser,
    rep_id: Id,
    languages: Text = "",
    territories: Text = "",
    capacity: Text = "",
    timezone: Text = "",
    hours: Text = "",
    active: Text = "",
    is_admin: Text = "",
    away_until: Text = "",
    caldav_url: Text = "",
    caldav_user: Text = "",
    caldav_password: Text = "",
) -> Response:
    """Change what routing and booking read: languages, territories, capacity, hours, away, active, the
    calendar (an empty address forgets it; an empty password keeps the stored one); all or nothing."""
    typed: dict[str, Any] = {"languages": languages, "territories": territories, "capacity": capacity}
    typed |= {"timezone": timezone, "hours": hours, "active": bool(active), "is_admin": bool(is_admin)}
    typed |= {"away_until": away_until, "caldav_url": caldav_url, "caldav_user": caldav_user}
    try:
        zone = timezone.strip() or "UTC"
        back = reps.back_on(away_until, zone) if away_until.strip() else None
        changes = RepUpdate(
            languages=_codes(languages),
            territories=_codes(territories),
            capacity=_capacity(capacity),
            timezone=zone,
            working_hours=reps.parse_hours(hours),
            active=bool(active),
            is_admin=bool(is_admin),
            away_until=back,
            clear_away=back is None,
            caldav_url=caldav_url.strip() or None,
            caldav_username=caldav_user.strip() or None,
            caldav_password=caldav_password or None,
            clear_caldav=not caldav_url.strip(),
        )
        with unit_of_work() as session:
            updated = reps.update_rep(session, rep_id, changes)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    except ValidationError as error:
        return _rep_page(request, _rep(rep_id), f"Nothing was changed: {explain(error)}.", typed)
    except CrmError as error:
        return _rep_page(request, _rep(rep_id), str(error), typed)
    return redirect(request, "/console/admin/reps", f"Rep {updated.name} saved.")


def _policy_page(
    request: Request,
    text: str | None = None,
    problems: list[str] | None = None,
    refusal: str | None = None,
) -> HTMLResponse:
    with unit_of_work() as session:
        versions = policy_store.policy_versions(session)
        proposed = policy_suggestions.suggestions(session, SuggestionStatus.PROPOSED)
    active = next(v for v in versions if v.active)
    return render(
        request,
        "console/admin_policy.html",
        {
            "versions": versions,
            "active": active,
            "text": active.source_text if text is None else text,
            "problems": problems or [],
            "refusal": refusal,
            "suggestions": proposed,
            "pipeline": current_pipeline(),
        },
        422 if problems or refusal else 200,
    )


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, user: AdminUser) -> HTMLResponse:
    return _policy_page(request)


@router.post("/policy")
def save_policy(
    request: Request, user: AdminUser, policy: Annotated[str, Form(max_length=POLICY_MAX)] = ""
) -> Response:
    """Validate and save a new version; an invalid one is shown again with every problem, nothing saved."""
    try:
        with unit_of_work() as session:
            saved = policy_store.save_policy(session, policy, user.email)
    except policy_store.InvalidPolicy as error:
        return _policy_page(request, policy, error.problems)
    return redirect(
        request,
        "/console/admin/policy",
        f"Policy version {saved.version} saved; new leads are classed by it.",
    )


@router.post("/policy/suggestions/{suggestion_id}/{decision}")
def decide_suggestion(request: Request, user: AdminUser, suggestion_id: Id, decision: str) -> Response:
    """Accept (a new policy version is saved) or reject a suggested change; a refusal is shown on the page."""
    to = {"accept": SuggestionStatus.ACCEPTED, "reject": SuggestionStatus.REJECTED}.get(decision)
    if to is None:
        raise HTTPException(404, "A suggestion is accepted or rejected.")
    try:
        with unit_of_work() as session:
            decided = policy_suggestions.decide(session, suggestion_id, to, user.email, datetime.now(UTC))
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    except CrmError as error:  # stale, already decided, or the changed policy would not be valid
        return _policy_page(request, refusal=str(error))
    message = (
        f"Suggestion #{decided.id} accepted: policy version {decided.saved_version} saved; "
        "new leads are classed by it."
        if to is SuggestionStatus.ACCEPTED
        else f"Suggestion #{decided.id} rejected; the policy is unchanged."
    )
    return redirect(request, "/console/admin/policy", message)
