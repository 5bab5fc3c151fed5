"""Policy suggestions: the qualification policy's rules compared with how closed leads actually ended.

Each closed lead (won or lost) is placed, by its facts and the policy in force, in one level of every
factor the policy scores: authority (each value), budget (fits / below the minimum / none), timeline
(hot / warm / a later date / none), need stated, company known, company size in range. A level's observed
win rate is given with its 95 % Wilson interval.

Three kinds of change are proposed, each only when every group compared has at least ``min_count``
closed leads and the difference is clear — a two-proportion z-test with |z| ≥ 2.58 (99 %, two-sided:
about 25 comparisons are made, so 95 % would find noise) and at least 5 points of win rate:

- ``weight``: a level that converts clearly better than one the policy gives more points is raised to
  that level's points (or, when it has no points of its own — no need, no budget, size unknown — the
  over-scored level is lowered to it).
- ``threshold``: a cut-off moved one step (``temperature.hot_max_days``, ``warm_max_days``,
  ``budget.minimum_amount``) when the leads between the current and the next step convert like those
  inside the class (no clear difference) and clearly differently from the rest beyond the step.
- ``sql_authority``: an authority outside ``sql_authorities`` that converts clearly better than one in it.

Suggestions are stored (``models.PolicySuggestion``) against the policy version they were computed with,
one open row per change (a change rejected for a version is not proposed again for it); ``decide`` is the
one transition (proposed → accepted | rejected) and accepting saves a new policy version through
``policy_store.save_policy``. A suggestion made against an older version than the one in force is
refused as stale.
"""

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import yaml
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import CrmError, InvalidTransition, NotFound
from crm_core.models import (
    Authority,
    Contact,
    Lead,
    PolicySuggestion,
    Stage,
    SuggestionStatus,
    Temperature,
)
from crm_core.qualification.policy import LeadFacts, Policy, budget_in_policy_currency, temperature_of
from crm_core.qualification.policy_store import active_policy, policy_versions, save_policy

MIN_COUNT = 30  # closed leads in every group compared
Z_CLEAR = 2.576  # |z| for a clear difference: 99 %, two-sided
MIN_GAP = 0.05  # and at least five points of win rate
Z_INTERVAL = 1.96  # the Wilson intervals shown are 95 %

TIMELINE_STEPS = (7, 14, 21, 30, 45, 60, 90, 120, 180, 270, 365)  # days a hot / warm cut-off may move to
BUDGET_STEPS = tuple(m * 10**e for e in range(2, 7) for m in (1, 2, 5))  # 100, 200, 500, … 5,000,000

ALLOWED: dict[SuggestionStatus, frozenset[SuggestionStatus]] = {
    SuggestionStatus.PROPOSED: frozenset({SuggestionStatus.ACCEPTED, SuggestionStatus.REJECTED}),
    SuggestionStatus.ACCEPTED: frozenset(),
    SuggestionStatus.REJECTED: frozenset(),
}


class StaleSuggestion(CrmError):
    """A suggestion computed against a policy version that is no longer in force."""


class Group(BaseModel):
    """Closed leads of one factor level: how many, how many won, the rate and its 95 % Wilson interval."""

    label: str
    points: int | None = None  # what the policy gives the level (None: not a scored level)
    leads: int
    won: int
    rate: float
    low: float
    high: float

    def text(self) -> str:
        scored = "" if self.points is None else f", scores {self.points}"
        return (
            f"{self.label}: {self.rate:.0%} won ({self.won} of {self.leads}; "
            f"95 % interval {self.low:.0%}–{self.high:.0%}{scored})"
        )


class Suggestion(BaseModel):
    """A proposed change before it is stored: what to set, a sentence, and the evidence behind it."""

    kind: str  # weight | threshold | sql_authority
    change: dict[str, Any]  # {"path": [...], "from": old, "to": new} | {"path": [...], "add": authority}
    summary: str
    evidence: dict[str, Any]


class SuggestionOut(Suggestion):
    id: int
    created_at: datetime
    policy_version: str
    status: SuggestionStatus
    decided_by: str | None
    decided_at: datetime | None
    saved_version: str | None
    stale: bool  # made against a policy version no longer in force


@dataclass(frozen=True)
class Outcome:
    facts: LeadFacts
    won: bool


def wilson(won: int, leads: int, z: float = Z_INTERVAL) -> tuple[float, float]:
    """The Wilson score interval of a proportion: sound at small counts and near 0 or 1."""
    if leads == 0:
        return 0.0, 1.0
    p = won / leads
    centre = (p + z * z / (2 * leads)) / (1 + z * z / leads)
    half = z * math.sqrt(p * (1 - p) / leads + z * z / (4 * leads * leads)) / (1 + z * z / leads)
    return max(0.0, centre - half), min(1.0, centre + half)


def z_score(a: Group, b: Group) -> float:
    """The two-proportion z statistic of a's rate minus b's (pooled); 0 when neither or both always win."""
    pooled = (a.won + b.won) / (a.leads + b.leads)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / a.leads + 1 / b.leads))
    return 0.0 if spread == 0 else (a.rate - b.rate) / spread


def group(label: str, outcomes: Iterable[Outcome], points: int | None = None) -> Group:
    chosen = list(outcomes)
    won = sum(o.won for o in chosen)
    low, high = wilson(won, len(chosen))
    rate = won / len(chosen) if chosen else 0.0
    return Group(label=label, points=points, leads=len(chosen), won=won, rate=rate, low=low, high=high)


def clearly_better(a: Group, b: Group) -> float | None:
    """z when a converts clearly better than b (enough leads in both, |z| ≥ 2.58, ≥ 5 points); else None."""
    if a.leads < MIN_COUNT or b.leads < MIN_COUNT or a.rate - b.rate < MIN_GAP:
        return None
    z = z_score(a, b)
    return z if z >= Z_CLEAR else None


def _evidence(groups: Sequence[Group], z: float, test: str) -> dict[str, Any]:
    return {
        "test": test,
        "z": round(z, 2),
        "z_needed": Z_CLEAR,
        "min_count": MIN_COUNT,
        "min_gap": MIN_GAP,
        "groups": [g.model_dump() for g in groups],
        "text": [g.text() for g in groups],
    }


# Factor levels. Each level the policy gives its own points has a path in the policy document; the
# others (no need, no budget, size unknown…) score 0 and have none.
Path = tuple[str, ...]


def _budget_level(facts: LeadFacts, policy: Policy) -> str:
    amount = budget_in_policy_currency(facts, policy)
    if amount is None:
        return "none"
    return "fits" if amount >= policy.budget.minimum_amount else "below_minimum"


def _timeline_level(facts: LeadFacts, policy: Policy) -> str:
    if facts.timeline_days is None:
        return "unknown"
    temperature = temperature_of(facts.timeline_days, policy)
    return "cold_with_date" if temperature is Temperature.COLD else temperature.value


def _size_level(facts: LeadFacts, policy: Policy) -> str:
    size, span = facts.company_size, policy.score.fit_company_size
    if size is None:
        return "unknown"
    return "in_range" if span.min <= size <= span.max else "outside"


FACTORS: dict[str, Callable[[LeadFacts, Policy], str]] = {
    "need": lambda facts, _policy: "stated" if facts.need else "none",
    "budget": _budget_level,
    "authority": lambda facts, _policy: facts.authority.value,
    "timeline": _timeline_level,
    "company": lambda facts, _policy: "known" if facts.company else "unknown",
    "company_size": _size_level,
}

LEVEL_PATHS: dict[str, dict[str, Path]] = {
    "need": {"stated": ("score", "need")},
    "budget": {"fits": ("score", "budget_fits"), "below_minimum": ("score", "budget_below_minimum")},
    "authority": {a.value: ("score", "authority", a.value) for a in Authority},
    "timeline": {t: ("score", "timeline", t) for t in ("hot", "warm", "cold_with_date", "unknown")},
    "company": {"known": ("score", "fit", "company_known")},
    "company_size": {"in_range": ("score", "fit", "company_size_in_range")},
}


def _read(document: dict[str, Any], path: Path) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key, 0) if isinstance(value, dict) else 0
    return value


def _points(document: dict[str, Any], factor: str, level: str) -> int:
    path = LEVEL_PATHS[factor].get(level)
    return int(_read(document, path)) if path else 0


def factor_groups(outcomes: Sequence[Outcome], policy: Policy) -> dict[str, dict[str, Group]]:
    """Every factor's levels (level → its closed leads' win rate and points), most points first."""
    document = policy.model_dump(mode="json")
    found: dict[str, dict[str, Group]] = {}
    for factor, level_of in FACTORS.items():
        by_level: dict[str, list[Outcome]] = {}
        for outcome in outcomes:
            by_level.setdefault(level_of(outcome.facts, policy), []).append(outcome)
        groups = {
            level: group(f"{factor} {level}", chosen, _points(document, factor, level))
            for level, chosen in by_level.items()
        }
        found[factor] = dict(sorted(groups.items(), key=lambda item: (-(item[1].points or 0), item[0])))
    return found


def _weights(outcomes: Sequence[Outcome], policy: Policy) -> list[Suggestion]:
    """A level converting clearly better than one scored higher: raise it (or lower the other)."""
    chosen: dict[Path, tuple[float, Suggestion]] = {}
    for factor, levels in factor_groups(outcomes, policy).items():
        for better_level, better in levels.items():
            for worse_level, worse in levels.items():
                z = clearly_better(better, worse)
                if z is None or (better.points or 0) >= (worse.points or 0):
                    continue
                raise_path = LEVEL_PATHS[factor].get(better_level)
                path, level, old, new = (
                    (raise_path, better_level, better.points, worse.points)
                    if raise_path
                    else (LEVEL_PATHS[factor][worse_level], worse_level, worse.points, better.points)
                )
                verb = "raise" if raise_path else "lower"
                summary = (
                    f"{factor} '{better_level}' converts {better.rate:.0%} (n={better.leads}) vs "
                    f"'{worse_level}' {worse.rate:.0%} (n={worse.leads}) but scores "
                    f"{(worse.points or 0) - (better.points or 0)} points less: {verb} "
                    f"{factor} '{level}' from {old} to {new}"
                )
                suggestion = Suggestion(
                    kind="weight",
                    change={"path": list(path), "from": old, "to": new},
                    summary=summary,
                    evidence=_evidence([better, worse], z, "two-proportion z-test"),
                )
                if path not in chosen or z > chosen[path][0]:
                    chosen[path] = (z, suggestion)
    return [suggestion for _z, suggestion in chosen.values()]


def _move(
    setting: Path,
    current: float,
    step: float,
    band: Group,
    like: Group,
    unlike: Group,
    why: str,
) -> Suggestion | None:
    """Move ``setting`` to ``step`` when the leads between the two (``band``) convert like ``like`` (no
    clear difference) and clearly unlike ``unlike`` (in the direction ``like`` differs from it)."""
    if min(band.leads, like.leads, unlike.leads) < MIN_COUNT:
        return None
    if abs(z_score(band, like)) >= Z_CLEAR:
        return None
    z = clearly_better(band, unlike) if like.rate > unlike.rate else clearly_better(unlike, band)
    if z is None:
        return None
    name = ".".join(setting)
    to = int(step)
    summary = (
        f"{band.label} convert {band.rate:.0%} (n={band.leads}), like {like.label} ({like.rate:.0%}, "
        f"n={like.leads}), and clearly unlike {unlike.label} ({unlike.rate:.0%}, n={unlike.leads}): "
        f"{why} — move {name} from {current:g} to {to}"
    )
    return Suggestion(
        kind="threshold",
        change={"path": list(setting), "from": int(current), "to": to},
        summary=summary,
        evidence=_evidence([band, like, unlike], z, "two-proportion z-test; the band vs each side"),
    )


def _steps_around(current: float, steps: Sequence[float]) -> tuple[float | None, float | None]:
    below = max((s for s in steps if s < current), default=None)
    above = min((s for s in steps if s > current), default=None)
    return below, above


def _timeline_thresholds(outcomes: Sequence[Outcome], policy: Policy) -> list[Suggestion]:
    dated = [(o.facts.timeline_days, o) for o in outcomes if o.facts.timeline_days is not None]
    hot, warm = policy.temperature.hot_max_days, policy.temperature.warm_max_days

    def days(label: str, low: float, high: float) -> Group:  # timelines in (low, high]
        return group(label, (o for d, o in dated if d is not None and low < d <= high))

    found: list[Suggestion | None] = []
    below, above = _steps_around(hot, TIMELINE_STEPS)
    if above is not None and above <= warm:
        band = days(f"leads needing it in {hot + 1}–{above:g} days", hot, above)
        inside, rest = days("hot leads", -1, hot), days(f"warm leads beyond {above:g} days", above, warm)
        found.append(_move(("temperature", "hot_max_days"), hot, above, band, inside, rest, "widen hot"))
    if below is not None:
        band = days(f"leads needing it in {below + 1:g}–{hot} days", below, hot)
        inside, rest = days(f"leads within {below:g} days", -1, below), days("warm leads", hot, warm)
        found.append(_move(("temperature", "hot_max_days"), hot, below, band, rest, inside, "narrow hot"))
    below, above = _steps_around(warm, TIMELINE_STEPS)
    if above is not None:
        band = days(f"leads needing it in {warm + 1}–{above:g} days", warm, above)
        inside, rest = days("warm leads", hot, warm), days(f"leads beyond {above:g} days", above, math.inf)
        found.append(_move(("temperature", "warm_max_days"), warm, above, band, inside, rest, "widen warm"))
    if below is not None and below >= hot:
        band = days(f"leads needing it in {below + 1:g}–{warm} days", below, warm)
        inside = days(f"warm leads within {below:g} days", hot, below)
        rest = days(f"leads beyond {warm} days", warm, math.inf)
        found.append(_move(("temperature", "warm_max_days"), warm, below, band, rest, inside, "narrow warm"))
    return [s for s in found if s is not None]


def _budget_thresholds(outcomes: Sequence[Outcome], policy: Policy) -> list[Suggestion]:
    amounts = [
        (amount, o) for o in outcomes if (amount := budget_in_policy_currency(o.facts, policy)) is not None
    ]
    minimum = policy.budget.minimum_amount

    def budgets(label: str, low: float, high: float) -> Group:  # budgets in [low, high)
        return group(label, (o for a, o in amounts if Decimal(low) <= a < Decimal(high)))

    found: list[Suggestion | None] = []
    setting = ("budget", "minimum_amount")
    below, above = _steps_around(float(minimum), BUDGET_STEPS)
    if below is not None:
        band = budgets(f"budgets of {below:,.0f}–{minimum:,.0f}", below, float(minimum))
        fits = budgets(f"budgets of {minimum:,.0f} or more", float(minimum), math.inf)
        rest = budgets(f"budgets under {below:,.0f}", 0, below)
        found.append(_move(setting, float(minimum), below, band, fits, rest, "lower the minimum"))
    if above is not None:
        band = budgets(f"budgets of {minimum:,.0f}–{above:,.0f}", float(minimum), above)
        fits = budgets(f"budgets of {above:,.0f} or more", above, math.inf)
        rest = budgets(f"budgets under {minimum:,.0f}", 0, float(minimum))
        found.append(_move(setting, float(minimum), above, band, rest, fits, "raise the minimum"))
    return [s for s in found if s is not None]


def _sql_authorities(outcomes: Sequence[Outcome], policy: Policy) -> list[Suggestion]:
    """An authority outside ``sql_authorities`` converting clearly better than one inside it."""
    levels = factor_groups(outcomes, policy)["authority"]
    found: list[Suggestion] = []
    for outside in Authority:
        if outside in policy.sql_authorities or outside is Authority.UNKNOWN or outside.value not in levels:
            continue
        best: tuple[float, str] | None = None
        for inside in sorted(policy.sql_authorities):
            if inside.value in levels and (z := clearly_better(levels[outside.value], levels[inside.value])):
                best = (z, inside.value) if best is None or z > best[0] else best
        if best is not None:
            z, than = best
            mine, theirs = levels[outside.value], levels[than]
            found.append(
                Suggestion(
                    kind="sql_authority",
                    change={"path": ["sql_authorities"], "add": outside.value},
                    summary=(
                        f"'{outside.value}' converts {mine.rate:.0%} (n={mine.leads}), clearly better than "
                        f"'{than}' ({theirs.rate:.0%}, n={theirs.leads}), which can make an SQL: "
                        f"add '{outside.value}' to sql_authorities"
                    ),
                    evidence=_evidence([mine, theirs], z, "two-proportion z-test"),
                )
            )
    return found


def suggest(outcomes: Sequence[Outcome], policy: Policy) -> list[Suggestion]:
    """Every change the outcomes clearly support; pure, so each rule can be checked on its own."""
    return [
        *_weights(outcomes, policy),
        *_timeline_thresholds(outcomes, policy),
        *_budget_thresholds(outcomes, policy),
        *_sql_authorities(outcomes, policy),
    ]


def closed_outcomes(session: Session) -> list[Outcome]:
    """Every won or lost lead's facts, as the conversation gathered them."""
    rows = session.execute(
        select(
            Lead.need,
            Lead.budget_amount,
            Lead.budget_currency,
            Lead.budget_none_yet,
            Lead.authority,
            Lead.timeline_days,
            Lead.company_size,
            Contact.company,
            Lead.stage,
        )
        .join(Contact, Contact.id == Lead.contact_id)
        .where(Lead.stage.in_([Stage.WON, Stage.LOST]))
        .order_by(Lead.id)
    )
    return [
        Outcome(
            LeadFacts(
                need=row.need,
                budget_amount=row.budget_amount,
                budget_currency=row.budget_currency,
                budget_none_yet=row.budget_none_yet,
                authority=row.authority,
                timeline_days=row.timeline_days,
                company_size=row.company_size,
                company=row.company,
            ),
            row.stage is Stage.WON,
        )
        for row in rows
    ]


def _change_key(policy_version: str, kind: str, change: dict[str, Any]) -> str:
    text = json.dumps([policy_version, kind, change], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _out(row: PolicySuggestion, active_version: str) -> SuggestionOut:
    return SuggestionOut(
        id=row.id,
        kind=row.kind,
        change=row.change,
        summary=row.summary,
        evidence=row.evidence,
        created_at=row.created_at,
        policy_version=row.policy_version,
        status=row.status,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        saved_version=row.saved_version,
        stale=row.policy_version != active_version,
    )


def propose(session: Session, now: datetime) -> list[SuggestionOut]:
    """Compare the policy in force with every closed lead and store what the evidence supports.

    Returns the suggestions found now; one already open for the same change and policy version is
    returned as it is (not stored twice), and one rejected for this policy version is not proposed again.
    """
    policy = active_policy(session)
    found = []
    for suggestion in suggest(closed_outcomes(session), policy):
        key = _change_key(policy.version, suggestion.kind, suggestion.change)
        row = session.scalar(
            select(PolicySuggestion)
            .where(PolicySuggestion.change_key == key, PolicySuggestion.status != SuggestionStatus.ACCEPTED)
            .order_by(PolicySuggestion.id.desc())
            .limit(1)
        )
        if row is not None and row.status is SuggestionStatus.REJECTED:
            continue  # an admin said no to this very change of this version
        if row is None:
            row = PolicySuggestion(
                created_at=now,
                policy_version=policy.version,
                change_key=key,
                status=SuggestionStatus.PROPOSED,
                **suggestion.model_dump(),
            )
            session.add(row)
            session.flush()
        found.append(_out(row, policy.version))
    return found


def suggestions(session: Session, status: SuggestionStatus | None = None) -> list[SuggestionOut]:
    """Stored suggestions, newest first; only those in ``status`` when given."""
    query = select(PolicySuggestion).order_by(PolicySuggestion.id.desc())
    if status is not None:
        query = query.where(PolicySuggestion.status == status)
    version = active_policy(session).version
    return [_out(row, version) for row in session.scalars(query)]


def _applied_text(source_text: str, change: dict[str, Any], version: str, note: str) -> str:
    """The policy's YAML with the change made and the new version label (comments are not kept)."""
    document = yaml.safe_load(source_text)
    *parents, last = change["path"]
    node = document
    for key in parents:
        node = node.setdefault(key, {})
    if "add" in change:
        node[last] = sorted({*node.get(last, []), change["add"]})
    else:
        node[last] = change["to"]
    document["version"] = version
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return f"# {note}\n{body}"


def decide(
    session: Session, suggestion_id: int, to: SuggestionStatus, by: str, now: datetime
) -> SuggestionOut:
    """The one transition of a suggestion: proposed → accepted (saving a new policy version) | rejected."""
    row = session.get(PolicySuggestion, suggestion_id, with_for_update=True)
    if row is None:
        raise NotFound(f"No policy suggestion with id {suggestion_id}.")
    if to not in ALLOWED[row.status]:
        if row.status is SuggestionStatus.PROPOSED:
            raise InvalidTransition(f"A suggestion can be accepted or rejected, not set to '{to}'.")
        raise InvalidTransition(
            f"Suggestion #{row.id} was already {row.status} by {row.decided_by} on "
            f"{row.decided_at:%Y-%m-%d %H:%M}; a decided suggestion is not decided again."
        )
    if to is SuggestionStatus.ACCEPTED:
        active = active_policy(session).version
        if row.policy_version != active:
            raise StaleSuggestion(
                f"Suggestion #{row.id} was made against policy version {row.policy_version}, but "
                f"{active} is in force now; it was not applied. Run `embudo policy suggest` again."
            )
        source = next(v for v in policy_versions(session) if v.active).source_text
        label = f"{now:%Y-%m-%d}.s{row.id}"
        note = f"Suggestion #{row.id} accepted by {by}: {row.summary}"
        saved = save_policy(session, _applied_text(source, row.change, label, note), by)
        row.saved_version = saved.version
    row.status = to
    row.decided_by = by
    row.decided_at = now
    session.flush()
    return _out(row, active_policy(session).version)


def accept(session: Session, suggestion_id: int, by: str, now: datetime) -> SuggestionOut:
    return decide(session, suggestion_id, SuggestionStatus.ACCEPTED, by, now)


def reject(session: Session, suggestion_id: int, by: str, now: datetime) -> SuggestionOut:
    return decide(session, suggestion_id, SuggestionStatus.REJECTED, by, now)
