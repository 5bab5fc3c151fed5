"""Policy suggestions from closed leads: generated histories with a known signal (and with none), the one
status transition and its refusals, accepting into a new policy version, the CLI on a real database and
the console's policy page over HTTP."""

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.db import unit_of_work
from crm_core.errors import InvalidTransition, NotFound
from crm_core.models import (
    Authority,
    Contact,
    Lead,
    PolicySuggestion,
    PolicyVersion,
    Qualification,
    Stage,
    SuggestionStatus,
    Temperature,
)
from crm_core.qualification import policy_suggestions as ps
from crm_core.qualification.policy import LeadFacts, current_policy
from crm_core.qualification.policy_store import active_policy, default_policy_text, save_policy
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef
from tests.console import ADMIN, ROSA, console_server, csrf_of, seed, signed_in
from tests.unit.test_cli_admin import embudo

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def closed_lead(
    session: Session,
    won: bool,
    *,
    authority: Authority = Authority.DECISION_MAKER,
    timeline_days: int | None = 10,
    budget: int | None = 5000,
    need: str | None = "a bot",
    company: str | None = "Acme",
    company_size: int | None = 50,
    score: int = 0,
    temperature: Temperature = Temperature.HOT,
    created_at: datetime | None = None,
) -> None:
    """A won or lost lead with the facts its conversation gathered (the classing fields as given)."""
    lead = Lead(
        contact=Contact(company=company),
        need=need,
        budget_amount=Decimal(budget) if budget is not None else None,
        budget_currency="EUR" if budget is not None else None,
        authority=authority,
        timeline_days=timeline_days,
        company_size=company_size,
        consent=True,
        score=score,
        qualification=Qualification.SQL,
        temperature=temperature,
        policy_version="history",
        stage=Stage.WON if won else Stage.LOST,
    )
    if created_at is not None:
        lead.created_at = created_at
    session.add(lead)


def closed_leads(session: Session, leads: int, won: int, **facts: object) -> None:
    """``leads`` closed leads with the same facts, the first ``won`` of them won."""
    for index in range(leads):
        closed_lead(session, index < won, **facts)  # type: ignore[arg-type]
    session.flush()


def influencers_convert_better(session: Session) -> None:
    """Influencers (10 points) win 40 % of 150, decision makers (20 points) 24 % of 150: z ≈ 2.97."""
    closed_leads(session, 150, 60, authority=Authority.INFLUENCER)
    closed_leads(session, 150, 36, authority=Authority.DECISION_MAKER)


def test_wilson_interval_and_z_score_are_the_textbook_ones() -> None:
    low, high = ps.wilson(60, 150)
    assert (round(low, 3), round(high, 3)) == (0.325, 0.48)
    assert ps.wilson(0, 0) == (0.0, 1.0)
    a, b = ps.group("a", []), ps.group("b", [])
    a = a.model_copy(update={"leads": 150, "won": 60, "rate": 0.4})
    b = b.model_copy(update={"leads": 150, "won": 36, "rate": 0.24})
    assert round(ps.z_score(a, b), 2) == 2.97


def test_an_authority_converting_better_than_scored_is_raised_with_its_evidence(session: Session) -> None:
    influencers_convert_better(session)
    [found] = ps.propose(session, NOW)
    assert found.kind == "weight"
    assert found.change == {"path": ["score", "authority", "influencer"], "from": 10, "to": 20}
    assert found.summary == (
        "authority 'influencer' converts 40% (n=150) vs 'decision_maker' 24% (n=150) but scores 10 points "
        "less: raise authority 'influencer' from 10 to 20"
    )
    evidence = found.evidence
    assert evidence["z"] == 2.97 and evidence["z_needed"] == ps.Z_CLEAR
    assert [(g["label"], g["leads"], g["won"], g["points"]) for g in evidence["groups"]] == [
        ("authority influencer", 150, 60, 10),
        ("authority decision_maker", 150, 36, 20),
    ]
    assert (
        evidence["text"][0] == "authority influencer: 40% won (60 of 150; 95 % interval 33%–48%, scores 10)"
    )
    assert (found.policy_version, found.status, found.stale) == (
        current_policy().version,
        SuggestionStatus.PROPOSED,
        False,
    )


def test_an_authority_outside_sql_converting_better_is_suggested_for_sql(session: Session) -> None:
    closed_leads(session, 50, 25, authority=Authority.RESEARCHER)
    closed_leads(session, 150, 36, authority=Authority.DECISION_MAKER)
    found = {s.kind: s for s in ps.propose(session, NOW)}
    assert found["sql_authority"].change == {"path": ["sql_authorities"], "add": "researcher"}
    assert "clearly better than 'decision_maker' (24%, n=150)" in found["sql_authority"].summary
    assert found["weight"].change == {"path": ["score", "authority", "researcher"], "from": 0, "to": 20}


def test_a_level_without_points_of_its_own_lowers_the_over_scored_one(session: Session) -> None:
    closed_leads(session, 100, 45, need=None)  # no need stated (0 points): 45 %
    closed_leads(session, 100, 20, need="a bot")  # a need (25 points): 20 %
    [found] = ps.propose(session, NOW)
    assert found.change == {"path": ["score", "need"], "from": 25, "to": 0}
    assert found.summary.endswith("but scores 25 points less: lower need 'stated' from 25 to 0")


def test_a_hot_cut_off_is_moved_where_conversion_jumps(session: Session) -> None:
    closed_leads(session, 100, 40, timeline_days=10)  # hot: 40 %
    closed_leads(session, 60, 24, timeline_days=40)  # 31–45 days: 40 %, like hot
    closed_leads(session, 100, 15, timeline_days=70)  # the rest of warm: 15 %
    [found] = ps.propose(session, NOW)
    assert found.kind == "threshold"
    assert found.change == {"path": ["temperature", "hot_max_days"], "from": 30, "to": 45}
    assert found.summary.startswith("leads needing it in 31–45 days convert 40% (n=60), like hot leads (40%")
    assert [g["label"] for g in found.evidence["groups"]] == [
        "leads needing it in 31–45 days",
        "hot leads",
        "warm leads beyond 45 days",
    ]


def test_a_budget_minimum_is_lowered_when_smaller_budgets_convert_like_fitting_ones(session: Session) -> None:
    closed_leads(session, 100, 40, budget=5000)  # fits: 40 %
    closed_leads(session, 60, 24, budget=600)  # 500–1,000: 40 %, like fitting budgets
    closed_leads(session, 100, 10, budget=200)  # under 500: 10 %
    found = {s.kind: s for s in ps.propose(session, NOW)}
    assert found["threshold"].change == {"path": ["budget", "minimum_amount"], "from": 1000, "to": 500}
    # and the points agree: a budget below the minimum (10 points) converts 25 % vs 40 % for fits (25)
    assert "weight" not in found


def test_no_suggestion_from_small_counts_or_noise(session: Session) -> None:
    closed_leads(session, 20, 12, authority=Authority.INFLUENCER)  # 60 %, but only 20 leads
    closed_leads(session, 20, 4, authority=Authority.DECISION_MAKER)
    assert ps.propose(session, NOW) == []

    rng = random.Random(19)
    for _ in range(600):  # every factor varies, none matters: a 30 % win rate throughout
        closed_lead(
            session,
            rng.random() < 0.3,
            authority=rng.choice(list(Authority)),
            timeline_days=rng.choice([None, 5, 20, 40, 60, 80, 150]),
            budget=rng.choice([None, 300, 800, 1500, 6000]),
            need=rng.choice([None, "a bot"]),
            company=rng.choice([None, "Acme"]),
            company_size=rng.choice([None, 2, 50, 9000]),
        )
    session.flush()
    assert ps.propose(session, NOW) == []


def test_proposing_again_does_not_duplicate_an_open_or_rejected_suggestion(session: Session) -> None:
    influencers_convert_better(session)
    [first] = ps.propose(session, NOW)
    [again] = ps.propose(session, NOW)
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(PolicySuggestion)) == 1
    ps.reject(session, first.id, "admin@example.com", NOW)
    assert ps.propose(session, NOW) == []  # rejected against this version: not proposed again
    assert session.scalar(select(func.count()).select_from(PolicySuggestion)) == 1


def test_accepting_saves_a_new_policy_version_that_classes_new_leads(session: Session) -> None:
    influencers_convert_better(session)
    [found] = ps.propose(session, NOW)
    accepted = ps.accept(session, found.id, "admin@example.com", NOW)
    assert (accepted.status, accepted.decided_by, accepted.decided_at) == (
        SuggestionStatus.ACCEPTED,
        "admin@example.com",
        NOW,
    )
    assert accepted.saved_version == f"2026-12-01.s{found.id}"
    [row] = session.scalars(select(PolicyVersion)).all()
    assert (row.version, row.saved_by) == (accepted.saved_version, "admin@example.com")
    assert row.source_text.startswith(f"# Suggestion #{found.id} accepted by admin@example.com: authority")
    policy = active_policy(session)
    assert policy.score.authority[Authority.INFLUENCER] == 20
    before = current_policy()
    assert (policy.temperature, policy.budget, policy.sql_authorities) == (
        before.temperature,
        before.budget,
        before.sql_authorities,
    )
    assert policy.score.model_dump(exclude={"authority"}) == before.score.model_dump(exclude={"authority"})
    lead = capture_lead(
        session,
        LeadFacts(need="a bot", authority=Authority.INFLUENCER, email="new@example.com", consent=True),
        ConversationRef(channel="rest", sender_id="after-accept"),
    )
    assert lead.policy_version == accepted.saved_version
    assert [r.points for r in lead.reasons if r.component == "authority"] == [20]
    # the rules now agree with the outcomes: nothing more to suggest
    assert ps.propose(session, NOW) == []


def test_refusals_are_clear_and_change_nothing(session: Session) -> None:
    influencers_convert_better(session)
    [found] = ps.propose(session, NOW)
    with pytest.raises(NotFound, match=r"No policy suggestion with id 99\."):
        ps.accept(session, 99, "admin", NOW)
    ps.reject(session, found.id, "ana", NOW)
    with pytest.raises(
        InvalidTransition, match=f"#{found.id} was already rejected by ana on 2026-12-01 12:00"
    ):
        ps.accept(session, found.id, "admin", NOW)
    with pytest.raises(InvalidTransition, match="already rejected"):
        ps.reject(session, found.id, "admin", NOW)
    assert session.scalar(select(func.count()).select_from(PolicyVersion)) == 0


def test_a_suggestion_made_against_an_older_policy_is_refused_as_stale(session: Session) -> None:
    influencers_convert_better(session)
    [found] = ps.propose(session, NOW)
    save_policy(session, default_policy_text().replace('version: "2026-12-01.2"', 'version: "v9"'), "bea")
    [listed] = ps.suggestions(session, SuggestionStatus.PROPOSED)
    assert listed.stale
    with pytest.raises(ps.StaleSuggestion, match=r"made against policy version 2026-12-01\.2, but v9 is in"):
        ps.accept(session, found.id, "admin", NOW)
    assert [row.version for row in session.scalars(select(PolicyVersion))] == ["v9"]
    assert ps.reject(session, found.id, "admin", NOW).status is SuggestionStatus.REJECTED


def test_the_cli_suggests_lists_accepts_and_refuses(db_url: str, tmp_path: Path) -> None:
    events_url = f"sqlite:///{tmp_path / 'none.db'}"
    with unit_of_work(db_url) as session:
        influencers_convert_better(session)
    suggested = embudo(db_url, events_url, "policy", "suggest")
    assert suggested.returncode == 0, suggested.stderr
    lines = suggested.stdout.splitlines()
    assert lines[0] == "#1 [proposed] weight against 2026-12-01.2"
    assert "raise authority 'influencer' from 10 to 20" in lines[1]
    assert "authority decision_maker: 24% won (36 of 150" in suggested.stdout
    listed = json.loads(embudo(db_url, events_url, "policy", "suggestions", "--format", "json").stdout)
    assert [(s["id"], s["status"], s["change"]["to"]) for s in listed] == [(1, "proposed", 20)]

    accepted = embudo(db_url, events_url, "policy", "accept", "1", "--by", "ana")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.strip().startswith("accepted suggestion #1: saved policy version ")
    again = embudo(db_url, events_url, "policy", "accept", "1", "--by", "ana")
    assert again.returncode == 1 and "#1 was already accepted by ana" in again.stderr
    unknown = embudo(db_url, events_url, "policy", "reject", "7", "--by", "ana")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "No policy suggestion with id 7.")
    decided = embudo(db_url, events_url, "policy", "suggestions", "--status", "accepted").stdout
    assert decided.startswith("#1 [accepted by ana ") and ", saved policy 2026-" in decided.splitlines()[0]
    assert embudo(db_url, events_url, "policy", "suggestions", "--status", "rejected").stdout.startswith(
        "no suggestions"
    )
    shown = embudo(db_url, events_url, "policy", "show").stdout
    assert "influencer: 20" in shown
    nothing = embudo(db_url, events_url, "policy", "suggest").stdout
    assert nothing.startswith("no change suggested: 300 closed leads")


@pytest.fixture
def web(db_url: str, tmp_path: Path) -> Iterator[str]:
    seed(db_url)
    with unit_of_work(db_url) as session:
        influencers_convert_better(session)
        ps.propose(session, NOW)
        save_policy(session, default_policy_text().replace('version: "2026-12-01.2"', 'version: "v2"'), "x")
        influencers_convert_better(session)  # twice the evidence, against v2
        ps.propose(session, NOW)
    with console_server(db_url, tmp_path / "web.log") as url:
        yield url


def test_the_policy_page_lists_suggestions_and_an_admin_accepts_one(web: str, db_url: str) -> None:
    admin = signed_in(web, ADMIN)
    page = admin.get("/console/admin/policy")
    assert page.status_code == 200
    assert 'id="suggestion-1"' in page.text and 'id="suggestion-2"' in page.text
    assert "raise authority &#39;influencer&#39; from 10 to 20" in page.text
    assert "authority influencer: 40% won (120 of 300" in page.text
    token = csrf_of(page.text)

    no_token = admin.post("/console/admin/policy/suggestions/2/accept")
    assert no_token.status_code == 403
    stale = admin.post("/console/admin/policy/suggestions/1/accept", data={"csrf_token": token})
    assert stale.status_code == 422 and "made against policy version 2026-12-01.2, but v2" in stale.text
    before = datetime.now(UTC)
    accepted = admin.post("/console/admin/policy/suggestions/2/accept", data={"csrf_token": token})
    assert accepted.status_code == 303
    # the new version is labelled with the day it was accepted (the real clock: the console passes now)
    [label] = {f"{day:%Y-%m-%d}.s2" for day in (before, datetime.now(UTC))} & set(
        re.findall(r"policy version (\S+) saved", (after := admin.get("/console/admin/policy")).text)
    )
    assert f"Suggestion #2 accepted: policy version {label} saved" in after.text
    assert 'id="suggestion-2"' not in after.text and f"version {label} (#2)" in after.text
    rejected = admin.post("/console/admin/policy/suggestions/1/reject", data={"csrf_token": token})
    assert rejected.status_code == 303
    assert "no open suggestion" in admin.get("/console/admin/policy").text
    assert (
        admin.post("/console/admin/policy/suggestions/9/accept", data={"csrf_token": token}).status_code
        == 404
    )
    with unit_of_work(db_url) as session:
        rows = session.scalars(select(PolicySuggestion).order_by(PolicySuggestion.id)).all()
        assert [(r.status, r.decided_by) for r in rows] == [
            (SuggestionStatus.REJECTED, ADMIN),
            (SuggestionStatus.ACCEPTED, ADMIN),
        ]
        assert active_policy(session).score.authority[Authority.INFLUENCER] == 20
    rep = signed_in(web, ROSA)
    assert rep.get("/console/admin/policy").status_code == 403
