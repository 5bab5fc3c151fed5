"""CRM commands of ``embudo``: pipeline, stage moves, deals, SLA, CSV, merges (KPIs: ``bot.cli_kpis``).

Thin adapters: each parses the shell's text, calls one crm_core function in a unit of work, and
prints the result; a CrmError is shown as a red message and exit code 1, with nothing written.
"""

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.assignment import sla
from crm_core.db import unit_of_work
from crm_core.errors import CrmError, InvalidInput, explain
from crm_core.exchange import csv_io, webhooks
from crm_core.models import Deal, Lead, Rep
from crm_core.outreach import winback
from crm_core.people import reps
from crm_core.sales import activities, deals, dedup, lifecycle, pipeline
from crm_core.schemas import NewDeal, RepUpdate

deals_app = typer.Typer(
    help="Deals: value, currency and expected close date on a lead.", no_args_is_help=True
)
sla_app = typer.Typer(help="The acceptance SLA for assigned leads.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Outgoing webhooks (signed, retried).", no_args_is_help=True)
contacts_app = typer.Typer(help="Contacts: merges and their undo.", no_args_is_help=True)

Format = Annotated[str, typer.Option("--format", help="text or json")]


def fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@contextmanager
def work() -> Iterator[Session]:
    """A unit of work whose user errors become a clear message and exit code 1 (rolled back)."""
    try:
        with unit_of_work() as session:
            yield session
    except CrmError as error:
        raise fail(str(error)) from None
    except ValidationError as error:
        raise fail(explain(error)) from None


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} must be a date like 2026-01-31, not '{text}'.") from None


def _start_of(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day else None


def _dump(items: list[Any] | BaseModel) -> str:
    if isinstance(items, BaseModel):
        return items.model_dump_json(indent=2)
    return json.dumps([item.model_dump(mode="json") for item in items], indent=2, ensure_ascii=False)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def pipeline_command(output: Format = "text") -> None:
    """Show the pipeline: stages, win probabilities, leads and open deal value in each."""
    config = pipeline.current_pipeline()
    with work() as session:
        leads = dict(session.execute(select(Lead.stage, func.count()).group_by(Lead.stage)).all())
        money = session.execute(
            select(Deal.stage, Deal.currency, func.count(), func.sum(Deal.value)).group_by(
                Deal.stage, Deal.currency
            )
        ).all()
    rows: list[dict[str, Any]] = []
    for stage in config.stages:
        deal_totals = {cur: (int(n), Decimal(v)) for st, cur, n, v in money if st is stage.name}
        rows.append(
            {
                "stage": stage.name.value,
                "probability": stage.probability,
                "terminal": stage.terminal,
                "leads": leads.get(stage.name, 0),
                "deals": {cur: {"count": n, "value": str(v)} for cur, (n, v) in deal_totals.items()},
            }
        )
    if output == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        deal_text = ", ".join(f"{d['count']} deals {d['value']} {cur}" for cur, d in row["deals"].items())
        typer.echo(f"{row['stage']:<12} {row['probability']:>5.0%}  {row['leads']:>7} leads  {deal_text}")


def lead_move(
    lead_id: Annotated[int, typer.Argument(help="The lead's id.")],
    stage: Annotated[str, typer.Argument(help="Target stage, e.g. contacted, won, lost.")],
    reopen: Annotated[bool, typer.Option(help="Reopen a won or lost lead.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why, for the history.")] = None,
    lost_reason: Annotated[
        str | None,
        typer.Option("--lost-reason", help="Moving to lost: why, for its open deals (default: lead lost)."),
    ] = None,
    recheck_on: Annotated[
        str | None,
        typer.Option(
            "--recheck-on", help="Moving to lost: when to re-check it (default: the policy's days)."
        ),
    ] = None,
) -> None:
    """Move a lead to another pipeline stage (recorded in its history)."""
    recheck = _day(recheck_on, "--recheck-on")
    with work() as session:
        change = lifecycle.move_lead(
            session, lead_id, stage, reopen=reopen, reason=reason, lost_reason=lost_reason, recheck_on=recheck
        )
    assert change.from_stage is not None
    typer.echo(f"lead {lead_id}: {change.from_stage.value} → {change.to_stage.value}")


def lead_history(lead_id: Annotated[int, typer.Argument()], output: Format = "text") -> None:
    """The lead's stage history, its deals' moves and its routing decisions."""
    from crm_core.assignment.routing import audit_log

    with work() as session:
        changes = pipeline.history(session, lead_id)
        events = audit_log(session, lead_id)
        rows: list[dict[str, Any]] = [
            {
                "at": c.changed_at.isoformat(),
                "deal": c.deal_id,
                "from": c.from_stage.value if c.from_stage else None,
                "to": c.to_stage.value,
                "reason": c.reason,
                "by": c.made_by,
            }
            for c in changes
        ]
        audit: list[dict[str, Any]] = [
            {
                "at": e.at.isoformat(),
                "action": e.action.value,
                "rep": e.rep_id,
                "reason": e.reason,
                "by": e.made_by,
            }
            for e in events
        ]
    if output == "json":
        typer.echo(json.dumps({"stages": rows, "assignments": audit}, indent=2))
        return
    for r in rows:
        what = f"deal {r['deal']}" if r["deal"] else "lead"
        typer.echo(
            f"{r['at'][:16]}  {what:<8} {r['from'] or '(new)':>12} → {r['to']:<12} {r['reason'] or ''}"
            f"  · by {r['by'] or 'unknown'}"
        )
    for a in audit:
        typer.echo(f"{a['at'][:16]}  routing  {a['action']:<10} {a['reason']}  · by {a['by'] or 'unknown'}")


def lead_note(
    lead_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Argument(help="The note.")],
    kind: Annotated[str, typer.Option(help="note, call, email, meeting or task")] = "note",
    rep: Annotated[int | None, typer.Option(help="Rep id who did it.")] = None,
) -> None:
    """Add a note or another activity to a lead."""
    with work() as session:
        activity = activities.add_activity(session, lead_id, kind, text, rep_id=rep)
    typer.echo(f"added {activity.kind.value} {activity.id} to lead {lead_id}")


def lead_activities(lead_id: Annotated[int, typer.Argument()], output: Format = "text") -> None:
    """List a lead's notes and activities."""
    with work() as session:
        items = activities.list_activities(session, lead_id)
    if output == "json":
        typer.echo(_dump(items))
        return
    for a in items:
        typer.echo(
            f"{a.created_at:%Y-%m-%d %H:%M}  {a.kind.value:<8} {a.body}  · by {a.made_by or 'unknown'}"
        )


def lead_accept(
    lead_id: Annotated[int, typer.Argument()], rep: Annotated[int, typer.Option(help="Rep id.")]
) -> None:
    """The assigned rep accepts a lead (stops the SLA clock)."""
    with work() as session:
        lifecycle.accept(session, lead_id, rep)
    typer.echo(f"lead {lead_id} accepted by rep {rep}")


def lead_pass(
    lead_id: Annotated[int, typer.Argument()], rep: Annotated[int, typer.Option(help="Rep id.")]
) -> None:
    """The assigned rep passes a lead on to the next rep (or an admin after two passes)."""
    with work() as session:
        owner = lifecycle.pass_lead(session, lead_id, rep)
        name = owner.name if owner else None
    typer.echo(f"lead {lead_id} passed; now with {name or 'nobody (queue)'}")


def lead_assign(
    lead_id: Annotated[int, typer.Argument()],
    rep: Annotated[int, typer.Option(help="Rep id who gets the lead.")],
    by: Annotated[str, typer.Option(help="Who decided, for the audit log.")] = "the command line",
) -> None:
    """Give a lead to a chosen rep, whatever routing would pick (the rep then accepts it within the SLA)."""
    with work() as session:
        lead = lifecycle.assign_to(session, lead_id, rep, by=by)
        name = lead.assigned_rep.name if lead.assigned_rep else "?"
    typer.echo(f"lead {lead_id} assigned to {name} (rep {rep})")


def lead_queue(output: Format = "text") -> None:
    """SQL leads waiting for a rep."""
    with work() as session:
        waiting = [
            (lead.id, lead.language, lead.territory, lead.escalated_at)
            for lead in sla.unassigned_queue(session)
        ]
    if output == "json":
        typer.echo(json.dumps([{"id": i, "language": lang, "territory": t} for i, lang, t, _ in waiting]))
        return
    if not waiting:
        typer.echo("the queue is empty")
    for lead_id, language, territory, escalated in waiting:
        typer.echo(f"{lead_id:>6}  {language:<4} {territory or '-':<6} {'escalated' if escalated else ''}")


def lead_import(
    file: Annotated[Path, typer.Argument(help="CSV with a header row; '-' reads standard input.")],
) -> None:
    """Import leads from CSV: every row is checked first; any bad row and nothing is written."""
    try:
        stream = sys.stdin if str(file) == "-" else file.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise fail(f"Cannot read {file}: {error.strerror}.") from None
    with stream, work() as session:
        report = csv_io.import_leads(session, stream)
    typer.echo(f"imported {report.rows} rows: {report.created} new leads, {report.updated} updated")


def lead_export(
    file: Annotated[Path, typer.Argument(help="Where to write; '-' writes standard output.")] = Path("-"),
) -> None:
    """Export every lead as CSV (importable again)."""
    with work() as session:
        if str(file) == "-":
            count = csv_io.export_leads(session, sys.stdout)
        else:
            with file.open("w", encoding="utf-8", newline="") as stream:
                count = csv_io.export_leads(session, stream)
    if str(file) != "-":
        typer.echo(f"exported {count} leads to {file}")


@deals_app.command("add")
def deal_add(
    lead_id: Annotated[int, typer.Argument(help="The lead the deal belongs to.")],
    title: Annotated[str, typer.Option(help="What is being sold.")],
    value: Annotated[str, typer.Option(help="Amount, e.g. 12000.50.")],
    currency: Annotated[str, typer.Option(help="ISO code, e.g. EUR.")],
    close: Annotated[str | None, typer.Option(help="Expected close date, YYYY-MM-DD.")] = None,
    stage: Annotated[str | None, typer.Option(help="Starting stage (default: the lead's).")] = None,
) -> None:
    """Open a deal on a lead."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise fail(f"--value must be a number, not '{value}'.") from None
    with work() as session:
        new = NewDeal(
            title=title,
            value=amount,
            currency=currency,
            expected_close_date=_day(close, "--close"),
            stage=pipeline.parse_stage(stage) if stage else None,
        )
        deal = deals.open_deal(session, lead_id, new)
    typer.echo(f"deal {deal.id} on lead {lead_id}: {deal.value} {deal.currency}, {deal.stage.value}")


@deals_app.command("move")
def deal_move(
    deal_id: Annotated[int, typer.Argument()],
    stage: Annotated[str, typer.Argument()],
    reopen: Annotated[bool, typer.Option(help="Reopen a won or lost deal.")] = False,
    lost_reason: Annotated[
        str | None, typer.Option("--lost-reason", help="Why it was lost (asked when the stage is lost).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="A note for the history.")] = None,
    recheck_on: Annotated[
        str | None,
        typer.Option(
            "--recheck-on", help="Moving to lost: when to re-check it (default: the policy's days)."
        ),
    ] = None,
) -> None:
    """Move a deal to another stage; moving it to lost asks why (--lost-reason, one of the pipeline's) and
    takes a re-check date (--recheck-on)."""
    recheck = _day(recheck_on, "--recheck-on")
    if stage.strip().lower() == "lost" and lost_reason is None and sys.stdin.isatty():
        reasons = pipeline.current_pipeline().lost_reasons
        lost_reason = typer.prompt(f"Why was deal {deal_id} lost? ({', '.join(reasons)})")
    with work() as session:
        change = pipeline.move_deal(
            session, deal_id, stage, reopen=reopen, reason=reason, lost_reason=lost_reason, recheck_on=recheck
        )
    assert change.from_stage is not None
    typer.echo(f"deal {deal_id}: {change.from_stage.value} → {change.to_stage.value}")


@deals_app.command("list")
def deal_list(
    lead: Annotated[int | None, typer.Option(help="Only this lead's.")] = None, output: Format = "text"
) -> None:
    """List deals."""
    with work() as session:
        items = deals.list_deals(session, lead)
    if output == "json":
        typer.echo(_dump(items))
        return
    for d in items:
        typer.echo(
            f"{d.id:>6}  lead {d.lead_id:<6} {d.stage.value:<12} {d.value:>12} {d.currency}  "
            f"{d.expected_close_date or '-'}  {d.title}"
        )


@sla_app.command("enforce")
def sla_enforce() -> None:
    """Move on every assigned lead not accepted in time, then give waiting leads to reps who can take them
    now (run it every minute from cron or a timer; the notifier does both by itself)."""
    with work() as session:
        moved = sla.enforce_sla(session)
        picked = sla.pick_up_queue(session)
    typer.echo(
        f"{len(moved)} overdue lead(s) moved on" + (f": {', '.join(map(str, moved))}" if moved else "")
    )
    typer.echo(
        f"{len(picked)} queued lead(s) assigned" + (f": {', '.join(map(str, picked))}" if picked else "")
    )


@webhooks_app.command("deliver")
def webhooks_deliver() -> None:
    """Send every due webhook once (run it every minute; failures are retried with backoff)."""
    with work() as session:
        sent = webhooks.deliver_due(session)
    typer.echo(f"{sent} webhook(s) delivered")


@contacts_app.command("merge")
def contact_merge(
    keep: Annotated[int, typer.Argument(help="Contact id to keep.")],
    other: Annotated[int, typer.Argument(help="Contact id folded into it.")],
    reason: Annotated[str, typer.Option(help="Why, for the merge log.")] = "merged by hand",
) -> None:
    """Merge two contacts (reversible with `contacts unmerge`)."""
    with work() as session:
        log = dedup.merge_contacts(session, keep, other, reason)
    typer.echo(f"merge {log.id}: contact {other} merged into {keep}")


@contacts_app.command("unmerge")
def contact_unmerge(merge_id: Annotated[int, typer.Argument()]) -> None:
    """Undo a merge."""
    with work() as session:
        log = dedup.unmerge(session, merge_id)
    typer.echo(f"merge {merge_id} undone: contacts {log.kept_id} and {log.merged_id} are separate again")


@contacts_app.command("merges")
def contact_merges(output: Format = "text") -> None:
    """The merge log."""
    with work() as session:
        rows = [
            {"id": m.id, "kept": m.kept_id, "merged": m.merged_id, "reason": m.reason,
             "at": m.merged_at.isoformat(), "undone": m.undone_at.isoformat() if m.undone_at else None}
            for m in dedup.merge_log(session)
        ]  # fmt: skip
    if output == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(
            f"{r['id']:>5}  {r['merged']} → {r['kept']}  {r['reason']}{'  (undone)' if r['undone'] else ''}"
        )


def rep_update(
    rep_id: Annotated[int, typer.Argument()],
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Receives leads or not.")] = None,
    capacity: Annotated[int | None, typer.Option(help="Open leads the rep can hold.")] = None,
    languages: Annotated[str | None, typer.Option(help="Comma-separated, e.g. en,es.")] = None,
    territories: Annotated[str | None, typer.Option(help="Comma-separated; empty string: all.")] = None,
    timezone: Annotated[str | None, typer.Option(help="e.g. Europe/Madrid.")] = None,
    hours: Annotated[str | None, typer.Option(help="e.g. mon-fri=09:00-17:00; empty string: always.")] = None,
    away_until: Annotated[
        str | None, typer.Option(help="Away until this date (YYYY-MM-DD); 'back' clears.")
    ] = None,
    admin: Annotated[bool | None, typer.Option("--admin/--no-admin", help="Receives escalations.")] = None,
    caldav_url: Annotated[
        str | None, typer.Option(help="The rep's CalDAV calendar: its busy times are not offered.")
    ] = None,
    caldav_user: Annotated[str | None, typer.Option(help="The calendar's user name.")] = None,
    caldav_password: Annotated[
        str | None, typer.Option(help="The calendar's password ('-': read it from standard input).")
    ] = None,
    no_caldav: Annotated[bool, typer.Option("--no-caldav", help="Forget the rep's calendar.")] = False,
) -> None:
    """Change a rep: active flag, capacity, languages, territories, hours, availability, admin role,
    calendar."""
    if caldav_password == "-":  # kept out of the shell's history and the process list
        caldav_password = sys.stdin.readline().rstrip("\n")
    with work() as session:
        changes = RepUpdate(
            active=active,
            capacity=capacity,
            languages=languages.split(",") if languages is not None else None,
            territories=territories.split(",") if territories is not None else None,
            timezone=timezone,
            working_hours=reps.parse_hours(hours) if hours is not None else None,
            away_until=None if away_until in (None, "back") else _start_of(_day(away_until, "--away-until")),
            clear_away=away_until == "back",
            is_admin=admin,
            caldav_url=caldav_url,
            caldav_username=caldav_user,
            caldav_password=caldav_password,
            clear_caldav=no_caldav,
        )
        rep = reps.update_rep(session, rep_id, changes)
    typer.echo(f"updated rep {rep.id}: {rep.name}, {'active' if rep.active else 'inactive'}")
    if no_caldav or caldav_url or caldav_user or caldav_password:
        typer.echo(
            f"calendar: {rep.caldav_url or 'none'}"
            + (f" as {rep.caldav_username}" if rep.caldav_username else "")
        )
    if rep.picked_up:
        typer.echo(
            f"from the queue: {len(rep.picked_up)} lead(s) handed out ({', '.join(map(str, rep.picked_up))})"
        )


def rep_quota(
    rep_id: Annotated[int, typer.Argument()],
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    amount: Annotated[str, typer.Option(help="Won value to reach.")],
    currency: Annotated[str, typer.Option(help="ISO code.")] = "EUR",
) -> None:
    """Set a rep's quota for a month (goal attainment in `embudo kpis`)."""
    start = _day(f"{month}-01", "--month")
    assert start is not None
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise fail(f"--amount must be a number, not '{amount}'.") from None
    with work() as session:
        if session.get(Rep, rep_id) is None:
            raise InvalidInput(f"No rep with id {rep_id}.")
        reps.set_quota(session, rep_id, start, end, value, currency)
    typer.echo(f"quota for rep {rep_id} in {month}: {value} {currency.upper()}")


def lead_rechecks() -> None:
    """The nurture queue: re-checks that came due on leads nobody owns (take one with `leads assign`)."""
    with work() as session:
        queue = winback.nurture_queue(session)
    for lead_id, task in queue:
        typer.echo(f"lead {lead_id}: {task}")
    if not queue:
        typer.echo("no re-checks waiting for an owner")


def register(app: typer.Typer, leads_app: typer.Typer, reps_app: typer.Typer) -> None:
    """Add the CRM commands to the ``embudo`` command tree."""
    commands: list[tuple[typer.Typer, str, Callable[..., None]]] = [
        (app, "pipeline", pipeline_command),
        (leads_app, "move", lead_move),
        (leads_app, "history", lead_history),
        (leads_app, "note", lead_note),
        (leads_app, "activities", lead_activities),
        (leads_app, "accept", lead_accept),
        (leads_app, "pass", lead_pass),
        (leads_app, "assign", lead_assign),
        (leads_app, "queue", lead_queue),
        (leads_app, "rechecks", lead_rechecks),
        (leads_app, "import", lead_import),
        (leads_app, "export", lead_export),
        (reps_app, "update", rep_update),
        (reps_app, "quota", rep_quota),
    ]
    for target, name, function in commands:
        target.command(name)(function)
    app.add_typer(deals_app, name="deals")
    app.add_typer(sla_app, name="sla")
    app.add_typer(contacts_app, name="contacts")
    app.add_typer(webhooks_app, name="webhooks")
