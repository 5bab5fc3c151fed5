"""Admin commands of ``embudo``: privacy (erase a contact, the retention purge, the erasure log),
qualification policy versions and the changes suggested from closed leads. Thin adapters around
``crm_core.people.privacy``, ``crm_core.qualification.policy_store`` and
``crm_core.qualification.policy_suggestions``."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_crm import Format, work
from crm_core.config import get_settings
from crm_core.models import SuggestionStatus
from crm_core.people.privacy import ErasureOut, erase_contact, erasures, find_contacts, purge_never_qualified
from crm_core.qualification import policy_suggestions
from crm_core.qualification.policy_store import active_policy, policy_versions, save_policy

privacy_app = typer.Typer(help="Erasing contacts on request, and the retention purge.", no_args_is_help=True)
policy_app = typer.Typer(help="The qualification policy and its versions.", no_args_is_help=True)


def _erasure_line(row: ErasureOut) -> str:
    counts = ", ".join(f"{count} {kind}" for kind, count in row.counts.items() if count)
    who = f"contact {row.contact_id}" if row.contact_id is not None else "retention purge"
    return f"{row.erased_at:%Y-%m-%d %H:%M} {who} by {row.erased_by}: {counts or 'nothing'}"


@privacy_app.command("find")
def privacy_find(
    text: Annotated[str, typer.Argument(help="Part of an e-mail, phone number or name.")],
) -> None:
    """Find the contact an erasure request is about (its id is what `erase` takes)."""
    with work() as session:
        found = find_contacts(session, text)
    if not found:
        typer.echo("no contact matches")
    for contact in found:
        typer.echo(
            f"contact {contact.id}: {contact.name or '(no name)'} <{contact.email or '-'}> "
            f"{contact.phone or '-'}, {contact.leads} lead(s)"
        )


@privacy_app.command("erase")
def privacy_erase(
    contact_id: Annotated[int, typer.Argument(help="The contact's id (`embudo privacy find`).")],
    by: Annotated[str, typer.Option("--by", help="Who is erasing (kept in the audit log).")],
    reason: Annotated[str | None, typer.Option(help="Why, e.g. the request's reference.")] = None,
) -> None:
    """Erase a contact: CRM rows and the tracker-store events of their conversations, in one transaction."""
    with work() as session:
        audit = erase_contact(session, contact_id, by, get_settings().events_url, reason=reason)
    typer.echo(f"erased: {_erasure_line(audit)}")


@privacy_app.command("purge")
def privacy_purge(
    days: Annotated[
        int | None, typer.Option(min=1, help="Idle days to keep (default EMBUDO_RETENTION_DAYS).")
    ] = None,
) -> None:
    """Purge conversations of never-qualified visitors idle for longer than the retention period (cron)."""
    settings = get_settings()
    with work() as session:
        audit = purge_never_qualified(session, days or settings.retention_days, settings.events_url)
    typer.echo(f"purged: {_erasure_line(audit)}" if audit else "nothing to purge")


@privacy_app.command("log")
def privacy_log(output: Format = "text") -> None:
    """The audit log of erasures and purges, newest first (who, when, how many rows — never the data)."""
    with work() as session:
        rows = erasures(session)
    if output == "json":
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    for row in rows:
        typer.echo(_erasure_line(row))


@policy_app.command("show")
def policy_show() -> None:
    """The policy new leads are classed by (the newest saved version, else the YAML file)."""
    with work() as session:
        versions = policy_versions(session)
        version = active_policy(session).version
    active = next(v for v in versions if v.active)
    typer.echo(f"# version {version} (#{active.number}{', the YAML file' if active.number == 0 else ''})")
    typer.echo(active.source_text)


@policy_app.command("versions")
def policy_list() -> None:
    """Every saved version, newest first; #0 is the YAML file."""
    with work() as session:
        versions = policy_versions(session)
    for v in versions:
        saved = f"saved {v.saved_at:%Y-%m-%d %H:%M} by {v.saved_by}" if v.saved_at else "the YAML file"
        typer.echo(f"#{v.number:<4} {v.version:<24} {saved}{'  (active)' if v.active else ''}")


@policy_app.command("set")
def policy_set(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A policy YAML file.")],
    by: Annotated[str, typer.Option("--by", help="Who is saving it.")],
) -> None:
    """Validate a policy file and save it as the new version (new leads are classed by it)."""
    with work() as session:  # an invalid policy is a CrmError: every problem is printed, nothing saved
        saved = save_policy(session, file.read_text(encoding="utf-8"), by)
    typer.echo(f"saved policy version {saved.version} (#{saved.number}); new leads are classed by it")


def _suggestion_lines(found: list[policy_suggestions.SuggestionOut]) -> None:
    for s in found:
        decided = f" by {s.decided_by} {s.decided_at:%Y-%m-%d %H:%M}" if s.decided_at else ""
        saved = f", saved policy {s.saved_version}" if s.saved_version else ""
        stale = " (stale: made against an older policy version)" if s.stale and s.status == "proposed" else ""
        typer.echo(f"#{s.id} [{s.status}{decided}{saved}] {s.kind} against {s.policy_version}{stale}")
        typer.echo(f"    {s.summary}")
        for line in s.evidence.get("text", []):
            typer.echo(f"      {line}")
        typer.echo(f"      z = {s.evidence['z']} (clear at |z| ≥ {s.evidence['z_needed']})")


@policy_app.command("suggest")
def policy_suggest(output: Format = "text") -> None:
    """Compare the policy in force with closed leads' outcomes and store the changes the evidence supports."""
    with work() as session:
        found = policy_suggestions.propose(session, datetime.now(UTC))
        closed = len(policy_suggestions.closed_outcomes(session))
    if output == "json":
        typer.echo(json.dumps([s.model_dump(mode="json") for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        typer.echo(
            f"no change suggested: {closed} closed leads, and no difference clear enough "
            f"(each group needs {policy_suggestions.MIN_COUNT} closed leads)"
        )
    _suggestion_lines(found)


@policy_app.command("suggestions")
def policy_suggestions_list(
    status: Annotated[
        SuggestionStatus | None, typer.Option(help="Only these: proposed, accepted or rejected.")
    ] = None,
    output: Format = "text",
) -> None:
    """Stored suggestions, newest first, with their evidence."""
    with work() as session:
        found = policy_suggestions.suggestions(session, status)
    if output == "json":
        typer.echo(json.dumps([s.model_dump(mode="json") for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        typer.echo("no suggestions (embudo policy suggest computes them)")
    _suggestion_lines(found)


Who = Annotated[str, typer.Option("--by", help="Who is deciding (kept with the suggestion).")]
SuggestionId = Annotated[int, typer.Argument(help="The suggestion's id (embudo policy suggestions).")]


@policy_app.command("accept")
def policy_accept(suggestion_id: SuggestionId, by: Who) -> None:
    """Accept a suggestion: the change is saved as a new policy version (new leads are classed by it)."""
    with work() as session:
        decided = policy_suggestions.accept(session, suggestion_id, by, datetime.now(UTC))
    typer.echo(
        f"accepted suggestion #{decided.id}: saved policy version {decided.saved_version}; "
        "new leads are classed by it"
    )


@policy_app.command("reject")
def policy_reject(suggestion_id: SuggestionId, by: Who) -> None:
    """Reject a suggestion: the policy stays as it is."""
    with work() as session:
        decided = policy_suggestions.reject(session, suggestion_id, by, datetime.now(UTC))
    typer.echo(f"rejected suggestion #{decided.id}; the policy is unchanged")


def register(app: typer.Typer) -> None:
    app.add_typer(privacy_app, name="privacy")
    app.add_typer(policy_app, name="policy")
