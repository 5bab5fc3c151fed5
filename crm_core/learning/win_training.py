"""Learning the win probability from the team's own closed leads, and storing it as a new version.

The closed leads (won or lost) are put in the order they were created: the older 75 % train a logistic
regression (scikit-learn, imported only here, inside ``train_win_model``) with Platt calibration fitted by
cross-validation on that part; the newest 25 % are held out and measure it as it will be used, on leads it
never saw: AUC, Brier score, a calibration table by deciles and the lift of the top decile. The model is
stored as plain JSON (``crm_core.learning.win_probability.LearnedModel``), with its window and metrics.

Nothing is learned below a minimum of outcomes (``EMBUDO_WIN_MODEL_MIN_CLOSED`` closed leads, at least
``EMBUDO_WIN_MODEL_MIN_WON`` won), nor when the split leaves a part the model cannot learn from or be
measured on: each refusal is a ``CannotTrain`` with the sentence that says why, and nothing is written.
"""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from crm_core.config import get_settings
from crm_core.db import author_of
from crm_core.errors import CrmError
from crm_core.learning.win_features import Features, lead_features
from crm_core.learning.win_probability import LearnedModel, newest_model
from crm_core.models import Lead, Stage, WinModel, utcnow
from crm_core.qualification.policy_store import active_policy
from crm_core.schemas import CalibrationBin, WinMetrics, WinModelOut, WinModelStatus

HELD_OUT_SHARE = 0.25
FOLDS = 5  # cross-validation folds of the calibration: each outcome needs this many training leads
MIN_FEATURE_LEADS = 5  # a feature fewer training leads have is left out: it would only learn noise
SEED = 0


class CannotTrain(CrmError):
    """Why no model was learned, in one sentence; nothing was stored."""


def closed_counts(session: Session) -> tuple[int, int]:
    """(closed, won) leads: what the model would learn from."""
    rows = dict(
        session.execute(
            select(Lead.stage, func.count())
            .where(Lead.stage.in_([Stage.WON, Stage.LOST]))
            .group_by(Lead.stage)
        ).all()
    )
    won, lost = rows.get(Stage.WON, 0), rows.get(Stage.LOST, 0)
    return won + lost, won


def shortfall(closed: int, won: int) -> str | None:
    """The sentence that says there are too few outcomes to learn from, or None when there are enough."""
    settings = get_settings()
    need_closed, need_won = settings.win_model_min_closed, settings.win_model_min_won
    if closed >= need_closed and won >= need_won:
        return None
    return (
        f"Not enough closed leads to learn from: {closed} closed, {won} won; "
        f"need {need_closed} with at least {need_won} won."
    )


def model_out(row: WinModel) -> WinModelOut:
    return WinModelOut.model_validate(row)


def model_status(session: Session) -> WinModelStatus:
    """The model in use, or why there is none (too few outcomes, or never trained)."""
    row = newest_model(session)
    if row is not None:
        return WinModelStatus(model=model_out(row))
    reason = shortfall(*closed_counts(session))
    return WinModelStatus(
        model=None,
        reason=reason or "No win model has been trained yet: run `embudo scoring train`.",
    )


def _check_split(train: list[bool], held_out: list[bool], held_out_from: datetime | None) -> None:
    since = f" (created from {held_out_from:%Y-%m-%d %H:%M} UTC)" if held_out_from else ""
    if all(held_out) or not any(held_out):
        outcome = "won" if all(held_out) else "lost"
        raise CannotTrain(
            f"The newest {len(held_out)} closed leads{since}, held out to test the model, were all "
            f"{outcome}: a model cannot be measured without both outcomes. Nothing was learned."
        )
    won = sum(train)
    if won < FOLDS or len(train) - won < FOLDS:
        raise CannotTrain(
            f"The older {len(train)} closed leads, which the model learns from, have {won} won and "
            f"{len(train) - won} lost: at least {FOLDS} of each are needed. Nothing was learned."
        )


def _vocabulary(rows: list[Features]) -> list[str]:
    seen: dict[str, int] = {}
    for features in rows:
        for name in features:
            seen[name] = seen.get(name, 0) + 1
    return sorted(name for name, leads in seen.items() if leads >= MIN_FEATURE_LEADS)


def _fit(rows: list[Features], outcomes: list[bool], names: list[str]) -> LearnedModel:
    """Logistic regression with Platt calibration by cross-validation, as a JSON-ready model."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    matrix = np.array([[features.get(name, 0.0) for name in names] for features in rows])
    calibrated = CalibratedClassifierCV(
        LogisticRegression(C=1.0, max_iter=2000),
        method="sigmoid",
        cv=StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED),
        ensemble=False,
    )
    calibrated.fit(matrix, np.array(outcomes, dtype=int))
    fitted = calibrated.calibrated_classifiers_[0]
    regression, platt = fitted.estimator, fitted.calibrators[0]
    return LearnedModel(
        weights=dict(zip(names, map(float, regression.coef_[0]), strict=True)),
        intercept=float(regression.intercept_[0]),
        platt_a=float(platt.a_),
        platt_b=float(platt.b_),
    )


def _metrics(
    model: LearnedModel, rows: list[Features], outcomes: list[bool], train: list[bool]
) -> WinMetrics:
    """The held-out leads scored exactly as open leads will be (the JSON model, clamped)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    predicted = [model.probability(features) for features in rows]
    ranked = sorted(zip(predicted, outcomes, strict=True), key=lambda pair: pair[0])
    size = len(ranked)
    bins = [ranked[size * decile // 10 : size * (decile + 1) // 10] for decile in range(10)]
    calibration = [
        CalibrationBin(
            decile=decile + 1,
            leads=len(part),
            predicted=round(sum(p for p, _ in part) / len(part), 4),
            observed=round(sum(won for _, won in part) / len(part), 4),
        )
        for decile, part in enumerate(bins)
        if part
    ]
    base_rate = sum(outcomes) / size
    top = bins[-1]
    return WinMetrics(
        train_leads=len(train),
        train_won=sum(train),
        held_out_leads=size,
        held_out_won=sum(outcomes),
        auc=round(float(roc_auc_score(outcomes, predicted)), 4),
        brier=round(float(brier_score_loss(outcomes, predicted)), 4),
        base_rate=round(base_rate, 4),
        top_decile_lift=round(sum(won for _, won in top) / len(top) / base_rate, 2),
        calibration=calibration,
        features=len(model.weights),
    )


def learn(
    rows: list[Features], outcomes: list[bool], held_out_from: datetime | None = None
) -> tuple[LearnedModel, WinMetrics]:
    """Fit on the older part of ``rows`` (oldest first) and measure on the newest; ``CannotTrain`` when
    a part lacks an outcome or the model does no better than chance on the held-out leads."""
    cut = len(rows) - max(1, round(len(rows) * HELD_OUT_SHARE))
    _check_split(outcomes[:cut], outcomes[cut:], held_out_from)
    model = _fit(rows[:cut], outcomes[:cut], _vocabulary(rows[:cut]))
    metrics = _metrics(model, rows[cut:], outcomes[cut:], outcomes[:cut])
    if metrics.auc <= 0.5:
        raise CannotTrain(
            f"The model learned from the older {cut} closed leads ranks the newest {len(rows) - cut} no "
            f"better than chance (AUC {metrics.auc:.2f}): the facts recorded do not tell won from lost. "
            "Nothing was stored."
        )
    return model, metrics


def train_win_model(session: Session, now: datetime | None = None) -> WinModelOut:
    """Learn from every closed lead, store the model as the next version and return it with its metrics;
    ``CannotTrain`` (nothing stored) when the outcomes cannot support a model."""
    reason = shortfall(*closed_counts(session))
    if reason:
        raise CannotTrain(reason)
    now = now or utcnow()
    leads = list(
        session.scalars(
            select(Lead)
            .options(selectinload(Lead.conversations))
            .where(Lead.stage.in_([Stage.WON, Stage.LOST]))
            .order_by(Lead.created_at, Lead.id)
        )
    )
    policy = active_policy(session)
    outcomes = [lead.stage is Stage.WON for lead in leads]
    held_out_from = leads[len(leads) - max(1, round(len(leads) * HELD_OUT_SHARE))].created_at
    model, metrics = learn([lead_features(lead, policy, now) for lead in leads], outcomes, held_out_from)
    document = model.as_json() | {"currency": policy.currency.code if policy.currency else None}
    latest = newest_model(session)
    row = WinModel(
        version=(latest.version if latest else 0) + 1,
        trained_at=now,
        trained_by=author_of(session),
        window_start=leads[0].created_at,
        window_end=leads[-1].created_at,
        held_out_from=held_out_from,
        won=sum(outcomes),
        lost=len(outcomes) - sum(outcomes),
        metrics=metrics.model_dump(mode="json"),
        model=document,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the version's unique key: another training stored it meanwhile
        raise CannotTrain(
            f"Another training stored win model version {row.version} at the same time; nothing was "
            "stored by this one. Run `embudo scoring show` to see it, or train again."
        ) from None
    return model_out(row)
