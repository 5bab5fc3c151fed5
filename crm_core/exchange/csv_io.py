"""CSV import and export of leads: an export imported into an empty database gives the same leads.

An export row carries the lead's facts and its record: stage, owner (matched on import by the rep's
e-mail), when it was assigned and accepted, created, its stage history and its deals (a JSON list, each
with its own history). Import checks every row before writing any (all-or-nothing per file): a file with
bad rows is refused with every problem listed by line and field, and nothing is written.

A row with a record (``created_at``) is restored as it was (``lifecycle.restore``): no routing, nobody
told. A row without one (a hand-made file) goes through ``capture_lead``, so it is qualified,
deduplicated and routed like a lead from the bot. Importing the same file again adds nothing: contacts
are found by e-mail or phone, a restored lead by its contact and creation time, its deals by title and
creation time.
"""

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_core.errors import InvalidInput
from crm_core.exchange import csv_cells
from crm_core.limits import CODE_LENGTH, NAME_LENGTH, TEXT_LENGTH, text_problem
from crm_core.models import Authority, Deal, Lead, Rep, Stage, StageChange
from crm_core.money import ISO_4217
from crm_core.qualification.policy import LeadFacts
from crm_core.qualification.policy import qualify as verdict_on
from crm_core.qualification.policy_store import active_policy
from crm_core.sales.deals import restore_deal
from crm_core.sales.dedup import normalize_email, normalize_phone, resolve_contact
from crm_core.sales.leads import apply_facts, capture_lead
from crm_core.sales.lifecycle import restore
from crm_core.sales.pipeline import LOST_WITH_LEAD, current_pipeline
from crm_core.schemas import ConversationRef, NewDeal

IMPORT_COLUMNS = (
    "name", "email", "phone", "company", "need", "budget_amount", "budget_currency", "authority",
    "timeline_days", "company_size", "consent", "language", "source", "territory",
)  # fmt: skip
# The longest text each imported cell may hold (the columns' sizes; crm_core.limits)
CELL_LENGTHS = {
    "name": NAME_LENGTH, "email": 320, "phone": 40, "company": NAME_LENGTH, "need": TEXT_LENGTH,
    "language": 8, "source": NAME_LENGTH, "territory": CODE_LENGTH,
}  # fmt: skip
# What an export adds: the lead's record. A row with ``created_at`` is restored as it was (see the module).
RECORD_COLUMNS = (
    "stage",
    "owner_email",
    "assigned_at",
    "accepted_at",
    "created_at",
    "stage_history",
    "deals",
)
EXPORT_COLUMNS = (
    "id", *IMPORT_COLUMNS, "qualification", "temperature", "score", "stage", "assigned_rep", "owner_email",
    "assigned_at", "accepted_at", "created_at", "stage_history", "deals",
)  # fmt: skip
_YES = {"yes", "y", "true", "1", "si", "sí"}
_NO = {"no", "n", "false", "0", ""}


class ImportReport(BaseModel):
    rows: int
    created: int
    updated: int
    lead_ids: list[int]


class _DealRecord(BaseModel):
    deal: NewDeal
    stages: list[tuple[Stage, datetime]]
    lost_reason: str | None = None


class _Record(BaseModel):
    """What an exported row says about the lead's life, beyond the facts."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    created_at: datetime
    stages: list[tuple[Stage, datetime]]
    owner: Rep | None
    assigned_at: datetime | None
    accepted_at: datetime | None
    deals: list[_DealRecord]


class _Row(BaseModel):
    facts: LeadFacts
    language: str
    source: str
    territory: str | None
    record: _Record | None = None


def _format_history(stages: Iterable[tuple[Stage, datetime]]) -> str:
    return "; ".join(f"{stage.value} {at.isoformat()}" for stage, at in stages)


def _when(text: str, field: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} '{text}' is not a date and time (ISO 8601)") from None
    if at.tzinfo is None:
        raise InvalidInput(f"{field} '{text}' has no time zone (e.g. +00:00)")
    return at


def _history(text: str, field: str) -> list[tuple[Stage, datetime]]:
    """``new 2026-01-05T09:00:00+00:00; sql 2026-01-06T…`` → [(stage, when)], oldest first."""
    stages: list[tuple[Stage, datetime]] = []
    for step in filter(None, (part.strip() for part in text.split(";"))):
        name, _, at = step.partition(" ")
        try:
            stage = Stage(name.lower())
        except ValueError:
            names = ", ".join(s.value for s in Stage)
            raise InvalidInput(f"{field}: '{name}' is not a stage (one of {names})") from None
        stages.append((stage, _when(at.strip(), field)))
    if [at for _, at in stages] != sorted(at for _, at in stages):
        raise InvalidInput(f"{field}: the moves are not in time order")
    return stages


def _deals(text: str) -> list[_DealRecord]:
    try:
        items = json.loads(text)
    except ValueError:
        raise InvalidInput("deals is not a JSON list of deals") from None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidInput("deals is not a JSON list of deals")
    deals: list[_DealRecord] = []
    for number, item in enumerate(items, start=1):
        field = f"deals[{number}]"
        try:
            deal = NewDeal.model_validate({k: item.get(k) for k in ("title", "value", "currency")})
            if item.get("expected_close_date"):
                deal.expected_close_date = date.fromisoformat(str(item["expected_close_date"]))
        except (ValidationError, InvalidInput, ValueError) as error:
            raise InvalidInput(f"{field}: {_first_problem(error)}") from None
        stages = _history(str(item.get("history") or ""), f"{field}.history")
        if not stages:
            raise InvalidInput(f"{field}.history is empty: a deal needs at least the stage it was opened in")
        lost_reason = item.get("lost_reason") or None  # older exports (and older deals) have none
        if stages[-1][0] is not Stage.LOST:
            lost_reason = None
        elif lost_reason is not None and lost_reason != LOST_WITH_LEAD:
            lost_reason = current_pipeline().lost_reason(str(lost_reason), field)
        deals.append(_DealRecord(deal=deal, stages=stages, lost_reason=lost_reason))
    return deals


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'value'}: {first['msg']}"
    return str(error).rstrip(".")


def _record(value: dict[str, str], reps: "_Reps", problems: list[str]) -> _Record | None:
    """The lead's record from an exported row, or None when the row has none (no created_at)."""
    if not value["created_at"]:
        return None
    parsed: dict[str, object] = {}
    steps: list[tuple[str, Callable[[], object]]] = [
        ("created_at", lambda: _when(value["created_at"], "created_at")),
        ("assigned_at", lambda: _when(value["assigned_at"], "assigned_at") if value["assigned_at"] else None),
        ("accepted_at", lambda: _when(value["accepted_at"], "accepted_at") if value["accepted_at"] else None),
        ("stages", lambda: _history(value["stage_history"], "stage_history")),
        ("deals", lambda: _deals(value["deals"]) if value["deals"] else []),
        ("owner", lambda: reps.find(value["owner_email"], value["assigned_rep"])),
    ]
    for key, step in steps:
        try:
            parsed[key] = step()
        except InvalidInput as error:
            problems.append(str(error))
    if len(parsed) < len(steps):
        return None
    stages = parsed["stages"] or []
    assert isinstance(stages, list)
    if not stages:
        try:
            stages = [(Stage(value["stage"].lower()), parsed["created_at"])]
        except ValueError:
            problems.append(f"stage '{value['stage']}' is not a stage (needed when stage_history is empty)")
            return None
    elif value["stage"] and stages[-1][0].value != value["stage"].lower():
        problems.append(f"stage '{value['stage']}' is not where stage_history ends ({stages[-1][0].value})")
        return None
    return _Record.model_validate({**parsed, "stages": stages})


class _Reps:
    """The database's reps, by e-mail (how an import matches owners) and, for a row without one, by name."""

    def __init__(self, session: Session) -> None:
        everyone = list(session.scalars(select(Rep)))
        self.by_email = {rep.email.strip().lower(): rep for rep in everyone if rep.email}
        names = [rep.name for rep in everyone]
        self.by_name = {rep.name: rep for rep in everyone if names.count(rep.name) == 1}

    def find(self, email: str, name: str) -> Rep | None:
        if email:
            rep = self.by_email.get(email.lower())
            if rep is None:
                raise InvalidInput(f"owner_email '{email}' is no rep's e-mail: add the rep first")
            return rep
        if name:
            rep = self.by_name.get(name)
            if rep is None:
                raise InvalidInput(f"assigned_rep '{name}' has no owner_email and is not one rep's name")
            return rep
        return None


def _parse_row(raw: dict[str, str | None], reps: _Reps) -> _Row:
    """One CSV row → lead facts (and its record, if exported), or InvalidInput listing every problem."""
    value = {key: (raw.get(key) or "").strip() for key in (*IMPORT_COLUMNS, *RECORD_COLUMNS, "assigned_rep")}
    problems: list[str] = []
    for key, longest in CELL_LENGTHS.items():
        problem = text_problem(value[key], longest, multiline=key == "need")
        if problem:
            problems.append(f"{key} {problem}")
    if value["budget_currency"] and value["budget_currency"].upper() not in ISO_4217:
        problems.append(f"budget_currency '{value['budget_currency'][:10]}' is not an ISO 4217 code")
    email = phone = None
    if value["email"]:
        try:
            email = normalize_email(value["email"])
        except InvalidInput:
            problems.append(f"email '{value['email']}' is not valid")
    if value["phone"]:
        try:
            phone = normalize_phone(value["phone"])
        except InvalidInput as error:
            problems.append(str(error).rstrip("."))
    if not (value["email"] or value["phone"]):
        problems.append("needs an email or a phone")
    amount = None
    if value["budget_amount"]:
        try:
            amount = Decimal(value["budget_amount"].replace(",", ""))
        except InvalidOperation:
            problems.append(f"budget_amount '{value['budget_amount']}' is not a number")
        if amount is not None and not (amount.is_finite() and 0 <= amount < 10**12):
            problems.append(f"budget_amount '{value['budget_amount']}' is not an amount from 0 to 10^12")
            amount = None
    numbers: dict[str, int | None] = {}
    for key in ("timeline_days", "company_size"):
        try:
            numbers[key] = int(value[key]) if value[key] else None
        except ValueError:
            problems.append(f"{key} '{value[key]}' is not a whole number")
        if not 0 <= (numbers.get(key) or 0) <= 100_000_000:
            problems.append(f"{key} '{value[key]}' is not a whole number from 0 to 100,000,000")
    try:
        authority = Authority(value["authority"].lower() or Authority.UNKNOWN)
    except ValueError:
        problems.append(
            f"authority '{value['authority']}' is not one of {', '.join(a.value for a in Authority)}"
        )
        authority = Authority.UNKNOWN
    consent_text = value["consent"].lower()
    if consent_text not in _YES | _NO:
        problems.append(f"consent '{value['consent']}' is not yes or no")
    record = _record(value, reps, problems)
    if problems:
        raise InvalidInput("; ".join(problems))
    facts = LeadFacts(
        need=value["need"] or None,
        budget_amount=amount,
        budget_currency=value["budget_currency"].upper() or None,
        authority=authority,
        timeline_days=numbers["timeline_days"],
        company=value["company"] or None,
        company_size=numbers["company_size"],
        name=value["name"] or None,
        email=email,
        phone=phone,
        consent=consent_text in _YES,
    )
    return _Row(
        facts=facts,
        language=value["language"].lower() or "en",
        source=value["source"] or "csv import",
        territory=value["territory"] or None,
        record=record,
    )


def import_leads(session: Session, stream: IO[str]) -> ImportReport:
    """Import leads from CSV with a header row (see IMPORT_COLUMNS; unknown columns are ignored)."""
    reader = csv.DictReader(stream)
    if reader.fieldnames is None:
        raise InvalidInput("The file is empty: expected a header row such as name,email,phone,...")
    if not {"email", "phone"} & set(reader.fieldnames):
        raise InvalidInput("The header needs an email or a phone column.")
    reps = _Reps(session)
    parsed: list[_Row] = []
    errors: list[str] = []
    for line, cells in enumerate(reader, start=2):
        raw = {
            name: csv_cells.restore(text) if isinstance(text, str) else text for name, text in cells.items()
        }
        try:
            parsed.append(_parse_row(raw, reps))
        except InvalidInput as error:
            errors.append(f"line {line}: {error}")
    if errors:
        raise InvalidInput(f"Nothing imported; {len(errors)} bad row(s):\n" + "\n".join(errors))
    before = set(session.scalars(select(Lead.id)))
    ids = [_restore(session, row, row.record) if row.record else _capture(session, row) for row in parsed]
    unique = list(dict.fromkeys(ids))
    created = sum(1 for lead_id in unique if lead_id not in before)
    return ImportReport(rows=len(parsed), created=created, updated=len(unique) - created, lead_ids=unique)


def _capture(session: Session, row: _Row) -> int:
    """A row without a record is a lead like one from the bot: qualified, deduplicated and routed."""
    key = row.facts.email or row.facts.phone
    return capture_lead(
        session,
        row.facts,
        ConversationRef(channel="csv", sender_id=f"{row.source}:{key}"[:255]),
        language=row.language,
        source=row.source,
        territory=row.territory,
    ).id


def _restore(session: Session, row: _Row, record: _Record) -> int:
    """An exported lead comes back as it was; if its contact already has a lead created at that moment,
    it is that lead (a re-import): only deals it does not have yet are added."""
    facts = row.facts
    contact = resolve_contact(session, facts.name, facts.email, facts.phone, facts.company)
    lead = session.scalar(
        select(Lead).where(Lead.contact_id == contact.id, Lead.created_at == record.created_at)
    )
    if lead is None:
        verdict = verdict_on(facts, active_policy(session))
        lead = Lead(contact=contact, territory=row.territory, created_at=record.created_at)
        apply_facts(lead, facts, row.language, row.source)
        restore(session, lead, verdict, record.stages, record.owner, record.assigned_at, record.accepted_at)
    have = {
        (title, _utc(created_at))
        for title, created_at in session.execute(
            select(Deal.title, Deal.created_at).where(Deal.lead_id == lead.id)
        )
    }
    for item in record.deals:
        if (item.deal.title, _utc(item.stages[0][1])) not in have:
            restore_deal(session, lead.id, item.deal, item.stages, item.lost_reason)
    return lead.id


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def _deal_cell(deals: list[Deal], history: dict[int, list[tuple[Stage, datetime]]]) -> str:
    if not deals:
        return ""
    return json.dumps(
        [
            {
                "title": deal.title,
                "value": str(deal.value),
                "currency": deal.currency,
                "expected_close_date": deal.expected_close_date.isoformat()
                if deal.expected_close_date
                else None,
                "history": _format_history(history.get(deal.id, [(deal.stage, deal.created_at)])),
                "lost_reason": deal.lost_reason,
            }
            for deal in deals
        ],
        ensure_ascii=False,
    )


def _export_row(lead: Lead, history: list[tuple[Stage, datetime]], deals: str) -> list[object]:
    contact = lead.contact
    rep = lead.assigned_rep
    return [
        lead.id, contact.name, contact.email, contact.phone, contact.company, lead.need, lead.budget_amount,
        lead.budget_currency, lead.authority.value, lead.timeline_days, lead.company_size,
        "yes" if lead.consent else "no", lead.language, lead.source, lead.territory, lead.qualification.value,
        lead.temperature.value, lead.score, lead.stage.value, rep.name if rep else None,
        rep.email if rep else None, _iso(lead.assigned_at if rep else None), _iso(lead.accepted_at),
        lead.created_at.isoformat(), _format_history(history or [(lead.stage, lead.created_at)]), deals,
    ]  # fmt: skip


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def export_leads(session: Session, stream: IO[str], batch: int = 1000) -> int:
    """Write every lead as CSV (oldest first), readable again by ``import_leads``: its facts, then its
    record (owner by e-mail, dates, stage history, deals with theirs). Returns the count."""
    writer = csv.writer(stream)
    writer.writerow(EXPORT_COLUMNS)  # every row through defused: no cell runs as a formula
    count = 0
    last_id = 0
    while True:
        leads = session.scalars(
            select(Lead)
            .options(selectinload(Lead.contact), selectinload(Lead.assigned_rep))
            .where(Lead.id > last_id)
            .order_by(Lead.id)
            .limit(batch)
        ).all()
        if not leads:
            return count
        ids = [lead.id for lead in leads]
        lead_history: dict[int, list[tuple[Stage, datetime]]] = defaultdict(list)
        deal_history: dict[int, list[tuple[Stage, datetime]]] = defaultdict(list)
        for lead_id, deal_id, stage, at in session.execute(
            select(StageChange.lead_id, StageChange.deal_id, StageChange.to_stage, StageChange.changed_at)
            .where(StageChange.lead_id.in_(ids))
            .order_by(StageChange.changed_at, StageChange.id)
        ):
            (deal_history[deal_id] if deal_id else lead_history[lead_id]).append((stage, at))
        deals: dict[int, list[Deal]] = defaultdict(list)
        for deal in session.scalars(select(Deal).where(Deal.lead_id.in_(ids)).order_by(Deal.id)):
            if deal.lead_id is not None:  # always, given the filter; an erased lead's deals have none
                deals[deal.lead_id].append(deal)
        writer.writerows(
            csv_cells.defused(
                _export_row(lead, lead_history[lead.id], _deal_cell(deals[lead.id], deal_history))
            )
            for lead in leads
        )
        count += len(leads)
        last_id = ids[-1]
