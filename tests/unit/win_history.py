"""Generated histories of closed leads with a known signal, for the win-probability tests.

Decision makers with a budget of 10k EUR or more who need it within a month win far more often
(``true_chance``); every other fact is noise. Fixed seeds: the same history every run.
"""

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from crm_core.models import Authority, Contact, Lead, Qualification, Stage, Temperature

START = datetime(2024, 1, 1, 9, tzinfo=UTC)


@dataclass(frozen=True)
class PastLead:
    number: int
    created_at: datetime
    authority: Authority
    budget: Decimal | None
    timeline_days: int | None
    company_size: int | None
    source: str
    language: str
    consent: bool
    won: bool


def true_chance(authority: Authority, budget: Decimal | None, timeline_days: int | None) -> float:
    logit = -4.0
    logit += {Authority.DECISION_MAKER: 2.4, Authority.RESEARCHER: -1.0}.get(authority, 0.0)
    logit += 2.2 if budget is not None and budget >= 10_000 else 0.0
    logit += 2.2 if timeline_days is not None and timeline_days <= 30 else 0.0
    return 1 / (1 + math.exp(-logit))


def history(count: int, seed: int = 7, start: datetime = START) -> list[PastLead]:
    """``count`` closed leads, oldest first, about eleven hours apart."""
    rng = random.Random(seed)
    leads = []
    for number in range(count):
        authority = rng.choices(list(Authority), weights=[35, 25, 20, 20])[0]
        budget = rng.choice([None, Decimal(2_000), Decimal(5_000), Decimal(20_000), Decimal(60_000)])
        timeline = rng.choice([None, 14, 25, 60, 200])
        chance = true_chance(authority, budget, timeline)
        leads.append(
            PastLead(
                number=number,
                created_at=start + timedelta(hours=11 * number, minutes=rng.randrange(60)),
                authority=authority,
                budget=budget,
                timeline_days=timeline,
                company_size=rng.choice([None, 4, 30, 400, 3000]),
                source=rng.choice(["web", "fair", "referral"]),
                language=rng.choice(["en", "es"]),
                consent=rng.random() < 0.9,
                won=rng.random() < chance,
            )
        )
    return leads


def add_closed_leads(session: Session, past: list[PastLead]) -> None:
    """The history as won and lost leads in the database (no conversations: as if imported)."""
    for lead in past:
        session.add(
            Lead(
                contact=Contact(email=f"past{lead.number}@example.org", name=f"Past {lead.number}"),
                need="a chatbot",
                budget_amount=lead.budget,
                budget_currency="EUR" if lead.budget is not None else None,
                authority=lead.authority,
                timeline_days=lead.timeline_days,
                company_size=lead.company_size,
                consent=lead.consent,
                language=lead.language,
                source=lead.source,
                qualification=Qualification.SQL,
                temperature=Temperature.HOT,
                policy_version="test",
                stage=Stage.WON if lead.won else Stage.LOST,
                created_at=lead.created_at,
            )
        )
    session.flush()


def as_csv(past: list[PastLead]) -> str:
    """The history as `embudo leads export` writes it (the columns an import restores from)."""
    columns = [
        "name", "email", "company", "need", "budget_amount", "budget_currency", "authority",
        "timeline_days", "company_size", "consent", "language", "source", "stage", "created_at",
    ]  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    for lead in past:
        writer.writerow(
            {
                "name": f"Past {lead.number}",
                "email": f"past{lead.number}@example.org",
                "company": f"Company {lead.number}",
                "need": "a chatbot",
                "budget_amount": lead.budget or "",
                "budget_currency": "EUR" if lead.budget is not None else "",
                "authority": lead.authority.value,
                "timeline_days": lead.timeline_days or "",
                "company_size": lead.company_size or "",
                "consent": "yes" if lead.consent else "no",
                "language": lead.language,
                "source": lead.source,
                "stage": "won" if lead.won else "lost",
                "created_at": lead.created_at.isoformat(),
            }
        )
    return out.getvalue()
