"""Scoring open leads with the newest learned win model: a probability and the factors behind it.

The stored model (``models.WinModel.model``) is plain JSON: feature names, logistic-regression
coefficients and intercept, and Platt calibration parameters. Scoring is a dot product in Python (no
scikit-learn here), so the lead list scores a page of leads from one loaded model without a query per lead.
Each feature the lead has adds ``weight`` in calibrated log-odds; the largest for and against are its
factors. Probabilities are clamped to [0.02, 0.98]: a handful of past outcomes never justifies a certainty.
Closed leads (won or lost) are never scored.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.learning.win_features import Features, lead_features
from crm_core.models import OPEN_STAGES, Lead, LeadRow, WinModel, utcnow
from crm_core.qualification.policy import Policy
from crm_core.qualification.policy_store import active_policy
from crm_core.schemas import WinFactor

LOWEST, HIGHEST = 0.02, 0.98
FACTORS_EACH_WAY = 3  # the strongest factors shown for, and as many against
NEGLIGIBLE = 0.05  # smaller weights (log-odds) are not worth a rep's attention


@dataclass(frozen=True)
class LearnedModel:
    """The JSON model, ready to score: ``logit = a·(w·x + intercept) + b``, ``p = 1 / (1 + e^logit)``
    (Platt's sigmoid, as scikit-learn writes it: ``a`` is negative when more is better)."""

    weights: dict[str, float]
    intercept: float
    platt_a: float
    platt_b: float

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "LearnedModel":
        weights = dict(zip(document["features"], map(float, document["coefficients"]), strict=True))
        calibration = document["calibration"]
        return cls(weights, float(document["intercept"]), float(calibration["a"]), float(calibration["b"]))

    def as_json(self) -> dict[str, Any]:
        return {
            "features": list(self.weights),
            "coefficients": list(self.weights.values()),
            "intercept": self.intercept,
            "calibration": {"method": "platt", "a": self.platt_a, "b": self.platt_b},
        }

    def raw_probability(self, features: Features) -> float:
        """The calibrated probability before clamping (what the metrics and the tests compare)."""
        decision = self.intercept + sum(self.weights.get(name, 0.0) * x for name, x in features.items())
        logit = self.platt_a * decision + self.platt_b
        if logit >= 0:  # written both ways so that exp never overflows, however large the weights
            return math.exp(-logit) / (1.0 + math.exp(-logit))
        return 1.0 / (1.0 + math.exp(logit))

    def probability(self, features: Features) -> float:
        return min(HIGHEST, max(LOWEST, self.raw_probability(features)))

    def factors(self, features: Features) -> list[WinFactor]:
        """The strongest features for, then against, with what each adds in calibrated log-odds."""
        weighed = [
            (name, -self.platt_a * self.weights[name] * x)
            for name, x in features.items()
            if name in self.weights
        ]
        weighed = [(name, weight) for name, weight in weighed if abs(weight) >= NEGLIGIBLE]
        pros = sorted((f for f in weighed if f[1] > 0), key=lambda f: -f[1])[:FACTORS_EACH_WAY]
        cons = sorted((f for f in weighed if f[1] < 0), key=lambda f: f[1])[:FACTORS_EACH_WAY]
        return [
            WinFactor(feature=name, weight=round(weight, 2), label=f"{name} {weight:+.1f}")
            for name, weight in (*pros, *cons)
        ]


def newest_model(session: Session) -> WinModel | None:
    return session.scalar(select(WinModel).order_by(WinModel.version.desc()).limit(1))


@dataclass(frozen=True)
class WinScorer:
    """Scores leads with one model and one policy (the budget currency) at one moment."""

    model: LearnedModel
    policy: Policy
    now: datetime

    def score(self, lead: Lead | LeadRow) -> tuple[float | None, list[WinFactor]]:
        """(probability, factors) of an open lead; (None, []) for a won or lost one."""
        if lead.stage not in OPEN_STAGES:
            return None, []
        features = lead_features(lead, self.policy, self.now)
        return round(self.model.probability(features), 4), self.model.factors(features)


def win_scorer(session: Session, now: datetime | None = None) -> WinScorer | None:
    """A scorer with the newest model (one query), or None while no model has been trained."""
    row = newest_model(session)
    if row is None:
        return None
    return WinScorer(LearnedModel.from_json(row.model), active_policy(session), now or utcnow())
