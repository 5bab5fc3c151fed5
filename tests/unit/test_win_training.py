"""The win-probability trainer on generated histories with a known signal, on a real database: it
recovers the signal on the held-out (newest) leads, is calibrated, keeps the minimum of outcomes, and
refuses what it cannot learn from with a sentence, storing nothing."""

import io
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm_core.config import get_settings
from crm_core.db import unit_of_work
from crm_core.exchange.csv_io import export_leads, import_leads
from crm_core.learning.win_features import lead_features
from crm_core.learning.win_training import CannotTrain, learn, model_status, train_win_model
from crm_core.models import Authority, Lead, Stage, WinModel
from crm_core.qualification.policy import current_policy
from tests.unit.win_history import PastLead, add_closed_leads, history


def _as_lead(past: PastLead) -> Lead:
    return Lead(
        need="a chatbot",
        budget_amount=past.budget,
        budget_currency="EUR" if past.budget is not None else None,
        budget_none_yet=False,
        authority=past.authority,
        timeline_days=past.timeline_days,
        company_size=past.company_size,
        consent=past.consent,
        just_asking=False,
        bought_competitor=False,
        language=past.language,
        source=past.source,
        created_at=past.created_at,
        stage=Stage.WON if past.won else Stage.LOST,
    )


def _stored_models(db_url: str) -> int:
    with unit_of_work(db_url) as session:
        return session.scalar(select(func.count()).select_from(WinModel)) or 0


def test_the_trainer_recovers_a_known_signal_on_the_newest_leads(db_url: str) -> None:
    past = history(800)
    with unit_of_work(db_url) as session:
        add_closed_leads(session, past)
    with unit_of_work(db_url, author="admin@example.org") as session:
        model = train_win_model(session)
    metrics = model.metrics
    assert metrics.auc >= 0.8 and metrics.top_decile_lift >= 2.0
    assert (metrics.train_leads, metrics.held_out_leads) == (600, 200)
    # the split is by creation time: the newest quarter is the test, the window is the whole history
    assert model.held_out_from == past[600].created_at
    assert (model.window_start, model.window_end) == (past[0].created_at, past[-1].created_at)
    assert model.won == sum(p.won for p in past) and model.won + model.lost == 800
    assert (model.version, model.trained_by) == (1, "admin@example.org")
    assert [row.decile for row in metrics.calibration] == list(range(1, 11))
    assert sum(row.leads for row in metrics.calibration) == 200
    assert 0 < metrics.brier < 0.25
    # the model's own weights say what the history says: decision makers, big budgets and short
    # timelines win, researchers lose
    with unit_of_work(db_url) as session:
        stored = session.scalars(select(WinModel.model)).one()
    weights = dict(zip(stored["features"], stored["coefficients"], strict=True))
    assert weights["authority: decision maker"] > 0.5 > -0.5 > weights["authority: researcher"]
    assert weights["timeline: within a month"] > weights["timeline: in 1–3 months"] + 1
    assert weights["budget: 10k–50k EUR"] > weights["budget: 1k–10k EUR"] + 1
    # a second training is the next version; the first stays
    with unit_of_work(db_url) as session:
        assert train_win_model(session).version == 2
        assert model_status(session).model.version == 2  # type: ignore[union-attr]
    assert _stored_models(db_url) == 2


def test_the_probability_is_calibrated_on_a_large_history() -> None:
    past = history(6000, seed=11)
    policy = current_policy()
    rows = [lead_features(_as_lead(p), policy, p.created_at + timedelta(days=2)) for p in past]
    model, metrics = learn(rows, [p.won for p in past])
    mean_predicted = sum(row.predicted * row.leads for row in metrics.calibration) / metrics.held_out_leads
    assert abs(mean_predicted - metrics.base_rate) < 0.03
    for row in metrics.calibration:  # each decile too, within sampling noise of 150 leads
        assert abs(row.predicted - row.observed) < 0.12, row
    # and against the true chance the history was drawn with: the model tells the best from the worst
    best = replace(past[0], authority=Authority.DECISION_MAKER, budget=Decimal(20_000), timeline_days=14)
    worst = replace(past[0], authority=Authority.RESEARCHER, budget=None, timeline_days=200)
    now = past[-1].created_at
    assert model.probability(lead_features(_as_lead(best), policy, now)) > 0.6
    assert model.probability(lead_features(_as_lead(worst), policy, now)) < 0.05


def test_below_the_minimum_of_outcomes_nothing_is_learned(db_url: str) -> None:
    past = history(150)
    with unit_of_work(db_url) as session:
        add_closed_leads(session, past)
        won = sum(p.won for p in past)
        with pytest.raises(CannotTrain) as refused:
            train_win_model(session)
        assert str(refused.value) == (
            f"Not enough closed leads to learn from: 150 closed, {won} won; need 200 with at least 30 won."
        )
        assert model_status(session).reason == str(refused.value)
    assert _stored_models(db_url) == 0


def test_the_minimum_is_configurable_and_counts_won_leads_too(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    past = history(400)
    won = sum(p.won for p in past)
    with unit_of_work(db_url) as session:
        add_closed_leads(session, past)
    monkeypatch.setenv("EMBUDO_WIN_MODEL_MIN_WON", str(won + 1))
    get_settings.cache_clear()
    with (
        unit_of_work(db_url) as session,
        pytest.raises(CannotTrain, match=f"400 closed, {won} won; need 200 with at least {won + 1} won"),
    ):
        train_win_model(session)
    monkeypatch.setenv("EMBUDO_WIN_MODEL_MIN_WON", "30")
    monkeypatch.setenv("EMBUDO_WIN_MODEL_MIN_CLOSED", "401")
    get_settings.cache_clear()
    with unit_of_work(db_url) as session, pytest.raises(CannotTrain, match="need 401 with at least 30"):
        train_win_model(session)
    monkeypatch.setenv("EMBUDO_WIN_MODEL_MIN_CLOSED", "400")
    get_settings.cache_clear()
    with unit_of_work(db_url) as session:
        assert train_win_model(session).won == won
    get_settings.cache_clear()


def test_a_held_out_part_with_one_outcome_is_refused_and_nothing_is_stored(db_url: str) -> None:
    past = history(400)
    newest_all_lost = [p if p.number < 300 else replace(p, won=False) for p in past]
    with unit_of_work(db_url) as session:
        add_closed_leads(session, newest_all_lost)
    with unit_of_work(db_url) as session, pytest.raises(CannotTrain) as refused:
        train_win_model(session)
    assert str(refused.value) == (
        f"The newest 100 closed leads (created from {past[300].created_at:%Y-%m-%d %H:%M} UTC), held out "
        "to test the model, were all lost: a model cannot be measured without both outcomes. "
        "Nothing was learned."
    )
    assert _stored_models(db_url) == 0


def test_a_history_without_signal_is_refused_as_no_better_than_chance() -> None:
    past = history(800, seed=3)
    policy = current_policy()
    rows = [lead_features(_as_lead(p), policy, p.created_at) for p in past]
    # outcomes that follow nothing the lead says: the newest quarter's wins are the leads the older
    # part calls unlikely (the opposite of what was learned)
    outcomes = [p.won for p in past[:600]] + [not p.won for p in past[600:]]
    with pytest.raises(CannotTrain, match=r"no better than chance \(AUC 0\.\d\d\).*Nothing was stored"):
        learn(rows, outcomes)


def test_an_exported_history_imported_elsewhere_teaches_the_same_model(
    db_url: str, other_db_url: str
) -> None:
    with unit_of_work(db_url) as session:
        add_closed_leads(session, history(400))
    exported = io.StringIO()
    with unit_of_work(db_url) as session:
        export_leads(session, exported)
        here = train_win_model(session)
    with unit_of_work(other_db_url) as session:
        assert import_leads(session, io.StringIO(exported.getvalue())).created == 400
    with unit_of_work(other_db_url) as session:
        there = train_win_model(session)
        stored = session.scalars(select(WinModel.model)).one()
    with unit_of_work(db_url) as session:
        assert session.scalars(select(WinModel.model)).one() == stored
    assert there.metrics == here.metrics
    assert (there.window_start, there.held_out_from, there.won) == (
        here.window_start,
        here.held_out_from,
        here.won,
    )
