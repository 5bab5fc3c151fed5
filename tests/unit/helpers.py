"""Small builders shared by the CRM tests: real rows on the test's SQLite database."""

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from crm_core.models import Contact, Lead, Qualification, Stage, Temperature
from crm_core.sales.pipeline import record_stage


def at(day: int, month: int = 1, hour: int = 9, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def make_lead(
    session: Session,
    stage: Stage = Stage.NEW,
    *,
    created: datetime | None = None,
    source: str | None = None,
    language: str = "en",
    rep_id: int | None = None,
    email: str | None = None,
) -> Lead:
    """A lead whose history starts with its creation in ``stage``."""
    lead = Lead(
        contact=Contact(email=email),
        qualification=Qualification.SQL if stage is not Stage.NEW else Qualification.SUSPECT,
        temperature=Temperature.HOT,
        policy_version="test",
        stage=stage,
        language=language,
        source=source,
        assigned_rep_id=rep_id,
    )
    if created is not None:
        lead.created_at = created
    session.add(lead)
    session.flush()
    record_stage(session, lead, None, at=created)
    return lead
