"""The rep's daily work lists: the pipeline board (``/console/board``) and the lead list (``/console/leads``).

Both read the same query string (search, filters, sort, page), so a filtered view is a link to keep or share;
``ListForm`` turns it into a ``crm_core.sales.leads.LeadQuery`` and says which parameter is wrong, beside its
field. A card moves through ``crm_core.sales.lifecycle.move``, as on the lead page and in the API; a refused
move shows the lifecycle's message on that card and changes nothing. Reps see only their own leads
(``users``).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from bot.web.console.auth import RepOrAdmin
from bot.web.console.inbox import allowed_moves
from bot.web.console.rendering import redirect, render
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, InvalidTransition, NotFound
from crm_core.limits import MAX_INT, as_number
from crm_core.models import Qualification, Rep, Temperature
from crm_core.people import users
from crm_core.people.users import UserOut
from crm_core.sales import lifecycle
from crm_core.sales.board import board
from crm_core.sales.leads import LeadQuery, LeadSort
from crm_core.sales.pipeline import current_pipeline, parse_stage

router = APIRouter(prefix="/console")

PAGE_SIZE = 50
PARAMETERS = ("q", "class", "temp", "stage", "rep", "source", "lang", "overdue", "sort", "page")
BOARD_PARAMETERS = ("q", "class", "temp", "rep", "source", "lang", "overdue")  # a column is a stage
SORT_LABELS = {
    LeadSort.NEWEST: "newest first",
    LeadSort.OLDEST: "oldest first",
    LeadSort.SCORE: "highest score",
    LeadSort.NAME: "name A–Z",
    LeadSort.ACCEPT_BY: "accept by, soonest",
}


def _choice(text: str, choices: type[Qualification] | type[Temperature] | type[LeadSort], what: str) -> str:
    names = ", ".join(choice.value for choice in choices)
    return f"Unknown {what} '{text}': use one of {names}."


@dataclass
class ListForm:
    """The list's query string: as typed (to fill the form again), what is wrong with it, and the query."""

    typed: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    page: int = 1
    query: LeadQuery = field(default_factory=LeadQuery)

    @classmethod
    def read(cls, params: Mapping[str, str], names: tuple[str, ...] = PARAMETERS) -> "ListForm":
        typed = {name: params.get(name, "").strip() for name in names}
        form = cls(typed)
        wanted: dict[str, object] = {}
        if typed["q"]:
            wanted["text"] = typed["q"]
        if typed.get("stage"):
            try:
                wanted["stage"] = parse_stage(typed["stage"])
            except CrmError as error:
                form.errors["stage"] = str(error)
        for name, key, choices, what in (
            ("class", "qualification", Qualification, "class"),
            ("temp", "temperature", Temperature, "temperature"),
            ("sort", "sort", LeadSort, "order"),
        ):
            text = typed.get(name, "").lower()
            if not text:
                continue
            try:
                wanted[key] = choices(text)
            except ValueError:
                form.errors[name] = _choice(typed[name], choices, what)
        rep = typed["rep"].lower()
        if rep == "none":
            wanted["unassigned"] = True
        elif as_number(rep, low=1) is not None:
            wanted["rep_id"] = as_number(rep, low=1)
        elif rep:
            form.errors["rep"] = f"Unknown rep '{typed['rep']}': choose one from the list."
        if typed["source"]:
            wanted["source"] = typed["source"]
        if typed["lang"]:
            wanted["language"] = typed["lang"].lower()
        overdue = typed["overdue"].lower()
        if overdue in ("yes", "no"):
            wanted["overdue"] = overdue == "yes"
        elif overdue:
            form.errors["overdue"] = f"'{typed['overdue']}' is neither yes nor no."
        page = typed.get("page", "")
        if page:
            number = as_number(page, low=1, high=MAX_INT // PAGE_SIZE)
            if number is not None:
                form.page = number
            else:
                form.errors["page"] = f"'{page}' is not a page number (1, 2, …)."
        try:
            form.query = LeadQuery.model_validate(wanted)
        except ValidationError as error:  # only the lengths are left to check
            for problem in error.errors():
                key = str(problem["loc"][0]) if problem["loc"] else "q"
                name = {"text": "q", "language": "lang"}.get(key, key)
                form.errors[name] = f"{problem['msg'].removeprefix('Value error, ')}."
        return form

    def link(self, **changes: str | int) -> str:
        """The query string of this view with ``changes`` (e.g. another page), without empty parameters."""
        values = {**self.typed, **{name: str(value) for name, value in changes.items()}}
        return urlencode({name: value for name, value in values.items() if value})


def _reps(session_user: UserOut) -> list[Rep]:
    if not session_user.is_admin:
        return []
    with unit_of_work() as session:
        reps = list(session.scalars(select(Rep).order_by(Rep.name, Rep.id)))
        session.expunge_all()
    return reps


@router.get("/leads", response_class=HTMLResponse)
def lead_list(request: Request, user: RepOrAdmin) -> HTMLResponse:
    """Every lead the user may see: searched, filtered, sorted and paged from the query string."""
    form = ListForm.read(request.query_params)
    leads, more = [], False
    if not form.errors:
        query = users.visible_query(user, form.query)
        offset = (form.page - 1) * PAGE_SIZE
        with unit_of_work() as session:
            found = users.visible_leads(session, user, PAGE_SIZE + 1, offset, query) if query else []
        leads, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    page = {
        "form": form,
        "leads": leads,
        "more": more,
        "reps": _reps(user),
        "stages": [stage.name.value for stage in current_pipeline().stages],
        "sorts": SORT_LABELS,
    }
    return render(request, "console/leads.html", page, 422 if form.errors else 200)


def _board_page(
    request: Request,
    user: UserOut,
    form: ListForm,
    status_code: int = 200,
    refused: dict[int, str] | None = None,
) -> HTMLResponse:
    config = current_pipeline()
    columns = []
    if not form.errors:
        query = users.visible_query(user, form.query)
        if query is not None:
            with unit_of_work() as session:
                columns = board(session, query)
    moves = {
        stage.name.value: allowed_moves(stage.name, reopen=config.is_terminal(stage.name))
        for stage in config.stages
    }
    page = {
        "form": form,
        "columns": columns,
        "moves": moves,
        "refused": refused or {},
        "back": form.link(),
        "reps": _reps(user),
    }
    return render(request, "console/board.html", page, status_code)


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request, user: RepOrAdmin) -> HTMLResponse:
    """A column per stage with the user's leads (an admin's: everyone's, or one rep's) as cards."""
    form = ListForm.read(request.query_params, BOARD_PARAMETERS)
    return _board_page(request, user, form, 422 if form.errors else 200)


FormText = Annotated[str, Form(max_length=2_000)]


@router.post("/board/move")
def board_move(
    request: Request, user: RepOrAdmin, lead_id: FormText = "", stage: FormText = "", back: FormText = ""
) -> Response:
    """Move one card to another stage (a closed lead is reopened), then show the same board again."""
    form = ListForm.read(
        dict(parse_qsl(back)), BOARD_PARAMETERS
    )  # rebuilt from parsed values: no open redirect
    lead_number = as_number(lead_id, low=1)
    if lead_number is None:
        raise HTTPException(422, "Which lead? The form lost its lead id.")
    try:
        with unit_of_work(author=user.as_author) as session:
            try:
                lead = users.visible_lead_row(session, user, lead_number)
            except NotFound as error:
                raise HTTPException(404, str(error)) from None
            moved = lifecycle.move(session, lead, stage, reopen=current_pipeline().is_terminal(lead.stage))
            was = moved.from_stage.value if moved.from_stage else "–"
            message = f"Lead {lead.id} moved from {was} to {moved.to_stage.value}."
    except CrmError as error:
        status = 409 if isinstance(error, InvalidTransition) else 422
        return _board_page(request, user, form, status, {lead_number: str(error)})
    return redirect(request, f"/console/board?{form.link()}#lead-{lead_id}", message)
