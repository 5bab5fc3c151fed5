"""CSV import and export of leads.

Import checks every row before writing any: a file with bad rows is refused with every problem listed,
and nothing is written. Good rows go through ``capture_lead``, so they are qualified, deduplicated and
routed like leads from the bot; importing the same file again updates rather than duplicates.
"""

import csv
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import IO

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_core.dedup import normalize_email, normalize_phone
from crm_core.errors import InvalidInput
from crm_core.leads import capture_lead
from crm_core.models import Authority, Lead
from crm_core.policy import LeadFacts
from crm_core.schemas import ConversationRef

IMPORT_COLUMNS = (
    "name", "email", "phone", "company", "need", "budget_amount", "budget_currency", "authority",
    "timeline_days", "company_size", "consent", "language", "source", "territory",
)  # fmt: skip
EXPORT_COLUMNS = (
    "id", *IMPORT_COLUMNS, "qualification", "temperature", "score", "stage", "assigned_rep", "created_at",
)  # fmt: skip
_YES = {"yes", "y", "true", "1", "si", "sí"}
_NO = {"no", "n", "false", "0", ""}


class ImportReport(BaseModel):
    rows: int
    created: int
    updated: int
    lead_ids: list[int]


class _Row(BaseModel):
    facts: LeadFacts
    language: str
    source: str
    territory: str | None


def _parse_row(raw: dict[str, str | None]) -> _Row:
    """One CSV row → lead facts, or InvalidInput listing every problem in the row."""
    value = {key: (raw.get(key) or "").strip() for key in IMPORT_COLUMNS}
    problems: list[str] = []
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
    numbers: dict[str, int | None] = {}
    for key in ("timeline_days", "company_size"):
        try:
            numbers[key] = int(value[key]) if value[key] else None
        except ValueError:
            problems.append(f"{key} '{value[key]}' is not a whole number")
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
    )


def import_leads(session: Session, stream: IO[str]) -> ImportReport:
    """Import leads from CSV with a header row (see IMPORT_COLUMNS; unknown columns are ignored)."""
    reader = csv.DictReader(stream)
    if reader.fieldnames is None:
        raise InvalidInput("The file is empty: expected a header row such as name,email,phone,...")
    if not {"email", "phone"} & set(reader.fieldnames):
        raise InvalidInput("The header needs an email or a phone column.")
    parsed: list[_Row] = []
    errors: list[str] = []
    for line, raw in enumerate(reader, start=2):
        try:
            parsed.append(_parse_row(raw))
        except InvalidInput as error:
            errors.append(f"line {line}: {error}")
    if errors:
        raise InvalidInput(f"Nothing imported; {len(errors)} bad row(s):\n" + "\n".join(errors))
    before = set(session.scalars(select(Lead.id)))
    ids: list[int] = []
    for row in parsed:
        key = row.facts.email or row.facts.phone
        lead = capture_lead(
            session,
            row.facts,
            ConversationRef(channel="csv", sender_id=f"{row.source}:{key}"[:255]),
            language=row.language,
            source=row.source,
            territory=row.territory,
        )
        ids.append(lead.id)
    unique = list(dict.fromkeys(ids))
    created = sum(1 for lead_id in unique if lead_id not in before)
    return ImportReport(rows=len(parsed), created=created, updated=len(unique) - created, lead_ids=unique)


def _export_row(lead: Lead) -> list[object]:
    contact = lead.contact
    return [
        lead.id, contact.name, contact.email, contact.phone, contact.company, lead.need, lead.budget_amount,
        lead.budget_currency, lead.authority.value, lead.timeline_days, lead.company_size,
        "yes" if lead.consent else "no", lead.language, lead.source, lead.territory, lead.qualification.value,
        lead.temperature.value, lead.score, lead.stage.value,
        lead.assigned_rep.name if lead.assigned_rep else None, lead.created_at.isoformat(),
    ]  # fmt: skip


def export_leads(session: Session, stream: IO[str], batch: int = 1000) -> int:
    """Write every lead as CSV (oldest first), readable again by ``import_leads``. Returns the count."""
    writer = csv.writer(stream)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    last_id = 0
    while True:
        leads: Iterable[Lead] = session.scalars(
            select(Lead)
            .options(selectinload(Lead.contact), selectinload(Lead.assigned_rep))
            .where(Lead.id > last_id)
            .order_by(Lead.id)
            .limit(batch)
        ).all()
        rows = [_export_row(lead) for lead in leads]
        if not rows:
            return count
        writer.writerows(rows)
        count += len(rows)
        last_id = int(str(rows[-1][0]))
