"""Scoring open leads with the stored win model: the JSON model scores as scikit-learn's fitted one,
reads back from the database the same, clamps, never scores a closed lead, explains itself, and scores a
whole lead list from one loaded model."""

import json
from datetime import timedelta
from itertools import count as numbers

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crm_core.db import get_engine, unit_of_work
from crm_core.learning.win_features import lead_features
from crm_core.learning.win_probability import HIGHEST, LOWEST, LearnedModel, win_scorer
from crm_core.learning.win_training import learn
from crm_core.models import Authority, Contact, Lead, Qualification, Stage, Temperature, WinModel, utcnow
from crm_core.qualification.policy import current_policy
from crm_core.sales.leads import get_lead, list_leads
from tests.unit.test_win_training import _as_lead
from tests.unit.win_history import history


def _learned() -> tuple[LearnedModel, list[Lead]]:
    past = history(800)
    leads = [_as_lead(p) for p in past]
    policy = current_policy()
    rows = [lead_features(lead, policy, lead.created_at + timedelta(days=2)) for lead in leads]
    return learn(rows, [p.won for p in past])[0], leads


def _store(db_url: str, model: LearnedModel) -> None:
    with unit_of_work(db_url) as session:
        moment = utcnow()
        session.add(
            WinModel(
                version=1,
                window_start=moment,
                window_end=moment,
                held_out_from=moment,
                won=1,
                lost=1,
                metrics={},
                model=json.loads(json.dumps(model.as_json())),
            )
        )


_emails = numbers(1)


def _open_lead(session: Session, stage: Stage = Stage.SQL, **facts: object) -> int:
    lead = Lead(
        contact=Contact(email=f"open-{next(_emails)}@example.org"),
        qualification=Qualification.SQL,
        temperature=Temperature.HOT,
        policy_version="test",
        stage=stage,
        need="a chatbot",
        **facts,
    )
    session.add(lead)
    session.flush()
    return lead.id


def test_the_json_model_scores_exactly_as_scikit_learn_does() -> None:
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    past = history(800)
    policy = current_policy()
    rows = [lead_features(_as_lead(p), policy, p.created_at) for p in past]
    model, _ = learn(rows, [p.won for p in past])
    names = list(model.weights)
    matrix = np.array([[row.get(name, 0.0) for name in names] for row in rows[:600]])
    fitted = CalibratedClassifierCV(
        LogisticRegression(C=1.0, max_iter=2000),
        method="sigmoid",
        cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=0),
        ensemble=False,
    ).fit(matrix, [p.won for p in past[:600]])
    expected = fitted.predict_proba(np.array([[row.get(n, 0.0) for n in names] for row in rows]))[:, 1]
    reread = LearnedModel.from_json(json.loads(json.dumps(model.as_json())))
    assert max(abs(reread.raw_probability(row) - p) for row, p in zip(rows, expected, strict=True)) < 1e-9


def test_a_model_stored_and_read_back_scores_the_same(db_url: str) -> None:
    model, leads = _learned()
    _store(db_url, model)
    policy = current_policy()
    with unit_of_work(db_url) as session:
        scorer = win_scorer(session)
        assert scorer is not None
        for lead in leads[:50]:
            lead.stage = Stage.SQL
            expected = model.probability(lead_features(lead, policy, scorer.now))
            assert scorer.score(lead)[0] == round(expected, 4)


def test_probabilities_are_clamped_away_from_certainty() -> None:
    sure = LearnedModel(weights={"authority: decision maker": 50.0}, intercept=0.0, platt_a=-1.0, platt_b=0.0)
    assert sure.raw_probability({"authority: decision maker": 1.0}) > 0.999
    assert sure.probability({"authority: decision maker": 1.0}) == HIGHEST == 0.98
    hopeless = LearnedModel(weights={"consent: not given": -900.0}, intercept=0.0, platt_a=-1.0, platt_b=0.0)
    assert hopeless.probability({"consent: not given": 1.0}) == LOWEST == 0.02
    assert sure.probability({}) == 0.5  # nothing it knows: the intercept alone


def test_factors_name_the_strongest_features_for_and_against() -> None:
    model = LearnedModel(
        weights={"authority: decision maker": 0.8, "timeline: within a month": 1.2, "source: fair": -0.6,
                 "language: es": 0.01, "budget: unknown": -0.3},
        intercept=-1.0, platt_a=-1.0, platt_b=0.0,
    )  # fmt: skip
    features = dict.fromkeys(
        ["authority: decision maker", "timeline: within a month", "source: fair", "language: es",
         "budget: unknown", "channel: telegram"],
        1.0,
    )  # fmt: skip
    assert [f.label for f in model.factors(features)] == [
        "timeline: within a month +1.2",
        "authority: decision maker +0.8",
        "source: fair -0.6",
        "budget: unknown -0.3",
    ]  # negligible weights and features the model never saw are left out


def test_open_leads_are_scored_and_closed_leads_never(db_url: str) -> None:
    model, _ = _learned()
    with unit_of_work(db_url) as session:
        hot = _open_lead(session, authority=Authority.DECISION_MAKER, timeline_days=10)
        won = _open_lead(session, Stage.WON, authority=Authority.DECISION_MAKER)
        lost = _open_lead(session, Stage.LOST, authority=Authority.RESEARCHER)
        cold = _open_lead(session, Stage.MQL, authority=Authority.RESEARCHER, timeline_days=300)
    with unit_of_work(db_url) as session:  # no model yet: nobody has a probability
        assert get_lead(session, hot).win_probability is None
    _store(db_url, model)
    with unit_of_work(db_url) as session:
        shown = {lead.id: lead for lead in list_leads(session)}
        single = get_lead(session, hot)
    assert shown[won].win_probability is None and shown[won].win_factors == []
    assert shown[lost].win_probability is None and shown[lost].win_factors == []
    hot_chance, cold_chance = shown[hot].win_probability, shown[cold].win_probability
    assert hot_chance is not None and cold_chance is not None and hot_chance > cold_chance
    assert single.win_probability == hot_chance
    assert "authority: decision maker" in [f.feature for f in shown[hot].win_factors if f.weight > 0]
    assert "authority: researcher" in [f.feature for f in shown[cold].win_factors if f.weight < 0]
    # the rule-based score and class are the policy's, untouched
    assert shown[hot].score == 0 and shown[hot].qualification is Qualification.SQL


def test_a_lead_list_is_scored_from_one_loaded_model(db_url: str) -> None:
    model, _ = _learned()
    _store(db_url, model)

    def statements_to_list(leads: int) -> int:
        with unit_of_work(db_url) as session:
            for number in range(leads):
                _open_lead(session, Stage.SQL, timeline_days=number + 1)
        seen: list[str] = []

        def count(_conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
            seen.append(statement)

        engine = get_engine(db_url)
        event.listen(engine, "before_cursor_execute", count)
        try:
            with unit_of_work(db_url) as session:
                assert all(lead.win_probability is not None for lead in list_leads(session))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    assert statements_to_list(3) == statements_to_list(40)
