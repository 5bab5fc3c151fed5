"""The ``embudo`` command: manage reps and read leads from the shell."""

import json
import time
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot import cli_admin, cli_crm, cli_kpis, cli_scoring, cli_users
from crm_core.chats.transcripts import as_text, sync_transcripts, transcript
from crm_core.config import get_settings
from crm_core.db import set_process_author, unit_of_work, upgrade_database
from crm_core.errors import CrmError, explain
from crm_core.people.reps import add_rep, list_reps, parse_hours
from crm_core.sales.leads import LeadQuery, get_lead, list_leads
from crm_core.schemas import LeadOut, NewRep

app = typer.Typer(help="Embudo: lead capture and qualification with a small CRM.", no_args_is_help=True)
reps_app = typer.Typer(help="Sales reps who receive qualified leads.", no_args_is_help=True)
leads_app = typer.Typer(help="Leads captured by the bot.", no_args_is_help=True)
db_app = typer.Typer(help="The CRM database.", no_args_is_help=True)
transcripts_app = typer.Typer(help="Conversation transcripts, copied from Rasa.", no_args_is_help=True)
app.add_typer(reps_app, name="reps")
app.add_typer(leads_app, name="leads")
app.add_typer(db_app, name="db")
app.add_typer(transcripts_app, name="transcripts")


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the CRM schema to the newest migration."""
    upgrade_database()
    typer.echo("database is up to date")


@reps_app.command("add")
def reps_add(
    name: Annotated[str, typer.Option(help="The rep's name.")],
    languages: Annotated[str, typer.Option(help="Comma-separated language codes, e.g. en,es.")],
    telegram_chat_id: Annotated[int | None, typer.Option(help="Telegram chat for notifications.")] = None,
    capacity: Annotated[int, typer.Option(help="Open leads the rep can hold at once.")] = 20,
    territories: Annotated[str, typer.Option(help="Comma-separated territories; none: covers all.")] = "",
    timezone: Annotated[str, typer.Option(help="The rep's time zone, e.g. Europe/Madrid.")] = "UTC",
    hours: Annotated[str, typer.Option(help="Working hours, e.g. mon-fri=09:00-17:00; none: always.")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Receives escalated leads.")] = False,
    email: Annotated[str | None, typer.Option(help="E-mail for lead notifications.")] = None,
) -> None:
    """Add a sales rep."""
    try:
        new_rep = NewRep(
            name=name,
            languages=languages.split(","),
            telegram_chat_id=telegram_chat_id,
            capacity=capacity,
            territories=territories.split(",") if territories else [],
            timezone=timezone,
            working_hours=parse_hours(hours),
            is_admin=admin,
            email=email,
        )
    except CrmError as error:
        raise _fail(f"Cannot add rep: {error}") from None
    except ValidationError as error:
        raise _fail(f"Cannot add rep: {explain(error)}") from None
    with unit_of_work() as session:
        rep = add_rep(session, new_rep)
    typer.echo(f"added rep {rep.id}: {rep.name} ({', '.join(rep.languages)}, capacity {rep.capacity})")
    if rep.picked_up:
        typer.echo(
            f"from the queue: {len(rep.picked_up)} lead(s) handed out ({', '.join(map(str, rep.picked_up))})"
        )


@reps_app.command("list")
def reps_list(
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List reps with their load."""
    with unit_of_work() as session:
        reps = list_reps(session)
    if output == "json":
        typer.echo(json.dumps([rep.model_dump(mode="json") for rep in reps], indent=2))
        return
    if not reps:
        typer.echo("no reps yet: add one with `embudo reps add --name NAME --languages en`")
    for rep in reps:
        state = "active" if rep.active else "inactive"
        typer.echo(
            f"{rep.id:>4}  {rep.name:<24} {','.join(rep.languages):<8} "
            f"{rep.open_leads}/{rep.capacity} open  {state}"
            + (f"  calendar {rep.caldav_url}" if rep.caldav_url else "")
        )


def _lead_line(lead: LeadOut) -> str:
    return (
        f"{lead.id:>5}  {lead.qualification.value:<12} {lead.temperature.value:<5} {lead.score:>3}  "
        f"{(lead.name or '-'):<20} {(lead.email or '-'):<28} {(lead.assigned_rep or '-'):<16} "
        f"{lead.created_at:%Y-%m-%d %H:%M}"
    )


@leads_app.command("list")
def leads_list(
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="How many to skip (paging).")] = 0,
    search: Annotated[str | None, typer.Option(help="In name, company, e-mail or phone.")] = None,
    stage: Annotated[str | None, typer.Option(help="new, mql, sql, contacted, …")] = None,
    qualification: Annotated[str | None, typer.Option("--class", help="suspect, mql, sql, …")] = None,
    temperature: Annotated[str | None, typer.Option(help="hot, warm or cold.")] = None,
    rep: Annotated[int | None, typer.Option(help="Only this rep's (id).")] = None,
    unassigned: Annotated[bool, typer.Option(help="Only leads nobody has.")] = False,
    source: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str | None, typer.Option()] = None,
    overdue: Annotated[
        bool | None, typer.Option("--overdue/--not-overdue", help="Waited past the SLA.")
    ] = None,
    sort: Annotated[str, typer.Option(help="newest, oldest, score, name or accept_by.")] = "newest",
) -> None:
    """List leads (newest first): searched, filtered and sorted like the console's lead list."""
    if output not in ("table", "json"):
        raise _fail(f"Unknown format '{output}': use table or json.")
    try:
        query = LeadQuery.model_validate(
            {
                "text": search,
                "stage": stage,
                "qualification": qualification,
                "temperature": temperature,
                "rep_id": rep,
                "unassigned": unassigned,
                "source": source,
                "language": language,
                "overdue": overdue,
                "sort": sort,
            }
        )
    except ValidationError as error:
        raise _fail(f"Cannot list leads: {explain(error)}.") from None
    with unit_of_work() as session:
        leads = list_leads(session, limit, offset, query)
    if output == "json":
        typer.echo(json.dumps([lead.model_dump(mode="json") for lead in leads], indent=2, ensure_ascii=False))
        return
    if not leads:
        filtered = query != LeadQuery()
        typer.echo(
            "no lead matches"
            if filtered
            else "no leads yet: chat with the bot (make run, then open http://localhost:8000)"
        )
    for lead in leads:
        typer.echo(_lead_line(lead) + ("  OVERDUE" if lead.overdue else ""))


@leads_app.command("show")
def leads_show(
    lead_id: Annotated[int, typer.Argument(help="The lead's id.")],
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Show one lead with the reasons for its score and class."""
    try:
        with unit_of_work() as session:
            lead = get_lead(session, lead_id)
    except CrmError as error:
        raise _fail(str(error)) from None
    if output == "json":
        typer.echo(lead.model_dump_json(indent=2))
        return
    typer.echo(
        f"Lead {lead.id}: {lead.name or '(no name)'} <{lead.email or 'no e-mail'}> at {lead.company or '-'}"
    )
    typer.echo(f"  class {lead.qualification.value}, {lead.temperature.value}, score {lead.score}/100")
    typer.echo(f"  stage {lead.stage.value}, assigned to {lead.assigned_rep or 'nobody (queue)'}")
    typer.echo(f"  conversation {lead.channel}:{lead.conversation_id}, language {lead.language}")
    typer.echo(f"  need: {lead.need or '-'}")
    typer.echo(f"  policy {lead.policy_version}; reasons:")
    for reason in lead.reasons:
        typer.echo(f"    {reason.points:>+3}  {reason.component:<9} {reason.why}")
    if lead.win_probability is not None:
        typer.echo(f"  learned win probability {lead.win_probability:.0%} (`embudo scoring show`); factors:")
        for factor in lead.win_factors:
            typer.echo(f"    {factor.label}")


@transcripts_app.command("sync")
def transcripts_sync() -> None:
    """Copy the messages Rasa published since the last sync."""
    with unit_of_work() as session:
        added = sync_transcripts(session, get_settings().events_url)
    typer.echo(f"{added} new messages")


@transcripts_app.command("follow")
def transcripts_follow(
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between syncs.")] = 1.0,
) -> None:
    """Keep copying new messages until stopped (``make run`` starts this)."""
    while True:
        try:
            with unit_of_work() as session:
                sync_transcripts(session, get_settings().events_url)
        except SQLAlchemyError as error:  # Rasa's or the CRM database is busy or briefly unreachable
            typer.secho(f"transcript sync failed, retrying: {error.__class__.__name__}: {error}", err=True)
        time.sleep(interval)


@transcripts_app.command("show")
def transcripts_show(
    conversation_id: Annotated[str, typer.Argument(help="The conversation (Rasa sender) id.")],
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Show one conversation's transcript."""
    try:
        with unit_of_work() as session:
            found = transcript(session, conversation_id)
    except CrmError as error:
        raise _fail(str(error)) from None
    if output == "json":
        typer.echo(found.model_dump_json(indent=2))
        return
    for line in as_text(found):
        typer.echo(line)


cli_crm.register(app, leads_app, reps_app)
cli_kpis.register(app)
cli_users.register(app)
cli_admin.register(app)
cli_scoring.register(app)


def main() -> None:
    set_process_author("CLI")  # what `embudo` changes is by the CLI in the history
    app()
