"""The learned win probability end to end, as a team moving from another CRM uses it: a history of closed
leads imported with `embudo leads import`, `embudo scoring train`, then open leads showing an explained win
probability in `embudo leads show`, `embudo leads list --format json` and the API."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.web.app import WebSettings, create_app
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Lead, Stage, SuggestionStatus
from crm_core.qualification import policy_suggestions
from tests.unit.test_cli import embudo
from tests.unit.win_history import as_csv, history

OPEN_LEADS = """name,email,need,budget_amount,budget_currency,authority,timeline_days,consent,language,source
Ana Ruiz,ana@acme.example,a sales bot,20000,EUR,decision_maker,14,yes,en,web
Bo Chen,bo@initech.example,just looking around,,,researcher,300,yes,en,web
"""


def _import(db_url: str, tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = embudo(db_url, "leads", "import", str(path))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_an_imported_history_trains_a_model_that_explains_open_leads(db_url: str, tmp_path: Path) -> None:
    past = history(300)
    won = sum(p.won for p in past)
    shown = embudo(db_url, "scoring", "show")
    assert shown.returncode == 0
    assert shown.stdout.strip() == (
        "Not enough closed leads to learn from: 0 closed, 0 won; need 200 with at least 30 won."
    )
    # the first 120 are not enough: the refusal says why, and nothing is stored
    assert "imported 120 rows: 120 new leads" in _import(db_url, tmp_path, "old.csv", as_csv(past[:120]))
    refused = embudo(db_url, "scoring", "train")
    assert refused.returncode == 1
    won_then = sum(p.won for p in past[:120])
    assert f"120 closed, {won_then} won; need 200 with at least 30 won." in refused.stderr
    assert "imported 180 rows: 180 new leads" in _import(db_url, tmp_path, "new.csv", as_csv(past[120:]))
    with unit_of_work(db_url) as session:  # the import restored each lead as it was: closed, then
        leads = list(session.scalars(select(Lead).order_by(Lead.created_at)))
        assert [lead.stage for lead in leads] == [Stage.WON if p.won else Stage.LOST for p in past]
        assert [lead.created_at for lead in leads] == [p.created_at for p in past]

    trained = embudo(db_url, "scoring", "train")
    assert trained.returncode == 0, trained.stderr
    lines = trained.stdout.splitlines()
    assert lines[0].startswith("win model version 1, trained ")
    assert f"(300 closed: {won} won, {300 - won} lost)" in lines[1]
    assert f"held out: created from {past[225].created_at:%Y-%m-%d}" in lines[1]
    assert "trained on 225 leads" in lines[2] and "tested on the newest 75" in lines[2]
    auc = float(lines[3].split()[1])
    lift = float(lines[3].split("lift ")[1].rstrip("x"))
    assert auc >= 0.8 and lift >= 2.0
    assert lines[5].split() == ["decile", "leads", "predicted", "observed"] and len(lines) == 6 + 10 + 2
    with unit_of_work(db_url) as session:  # the same outcomes were compared with the policy
        proposed = policy_suggestions.suggestions(session, SuggestionStatus.PROPOSED)
    assert lines[-1].startswith(f"policy changes suggested by the same outcomes: {len(proposed)}")
    assert embudo(db_url, "scoring", "show").stdout.splitlines()[:4] == lines[:4]

    _import(db_url, tmp_path, "open.csv", OPEN_LEADS)
    listed = json.loads(embudo(db_url, "leads", "list", "--format", "json", "--limit", "400").stdout)
    by_email = {lead["email"]: lead for lead in listed}
    ana, bo = by_email["ana@acme.example"], by_email["bo@initech.example"]
    assert ana["win_probability"] > 0.5 > 0.1 > bo["win_probability"] >= 0.02
    assert {"authority: decision maker", "timeline: within a month"} <= {
        factor["feature"] for factor in ana["win_factors"] if factor["weight"] > 0
    }
    assert "authority: researcher" in {f["feature"] for f in bo["win_factors"] if f["weight"] < 0}
    closed = [lead for lead in listed if lead["stage"] in ("won", "lost")]
    assert len(closed) == 300 and all(
        lead["win_probability"] is None and lead["win_factors"] == [] for lead in closed
    )
    assert (ana["qualification"], ana["score"]) == ("sql", 90)  # the policy's score and class as ever

    text = embudo(db_url, "leads", "show", str(ana["id"])).stdout
    assert f"learned win probability {ana['win_probability']:.0%}" in text
    assert ana["win_factors"][0]["label"] in text
    assert "learned win probability" not in embudo(db_url, "leads", "show", str(closed[0]["id"])).stdout


@pytest.fixture
def client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield TestClient(create_app(WebSettings(api_token="token-1")))
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_the_api_shows_the_model_and_each_open_lead_s_win_probability(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    auth = {"Authorization": "Bearer token-1"}
    status = client.get("/api/v1/scoring", headers=auth).json()
    assert status == {
        "model": None,
        "reason": "Not enough closed leads to learn from: 0 closed, 0 won; need 200 with at least 30 won.",
    }
    _import(db_url, tmp_path, "history.csv", as_csv(history(300)))
    _import(db_url, tmp_path, "open.csv", OPEN_LEADS)
    leads = client.get("/api/v1/leads", params={"q": "ana@acme"}, headers=auth).json()
    assert leads[0]["win_probability"] is None  # trained nothing yet
    assert embudo(db_url, "scoring", "train").returncode == 0
    status = client.get("/api/v1/scoring", headers=auth).json()
    assert status["reason"] is None and status["model"]["version"] == 1
    assert status["model"]["metrics"]["auc"] >= 0.8
    ana = client.get("/api/v1/leads", params={"q": "ana@acme"}, headers=auth).json()[0]
    assert ana["win_probability"] > 0.5
    one = client.get(f"/api/v1/leads/{ana['id']}", headers=auth).json()
    assert (one["win_probability"], one["win_factors"]) == (ana["win_probability"], ana["win_factors"])
    assert one["win_factors"][0]["label"].startswith(one["win_factors"][0]["feature"] + " +")
    won = client.get("/api/v1/leads", params={"stage": "won", "limit": 5}, headers=auth).json()
    assert won and all(lead["win_probability"] is None for lead in won)
