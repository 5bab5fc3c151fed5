"""Versions of the qualification policy saved by admins: validated before saving, the newest one wins.

The YAML file (``EMBUDO_POLICY_FILE``) is version 0, in force until an admin saves a version. A saved
version is never changed or deleted, so every lead's ``policy_version`` keeps naming the rules that
classed it; an older version is brought back by saving its text again under a new label.
"""

from datetime import datetime

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.errors import CrmError
from crm_core.models import PolicyVersion
from crm_core.money import current_rates
from crm_core.qualification.policy import Policy, current_policy, with_rates


class InvalidPolicy(CrmError):
    """A policy that would not work; ``problems`` lists every reason, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("The policy was not saved: " + "; ".join(problems))
        self.problems = problems


class PolicyVersionOut(BaseModel):
    number: int  # 0 is the YAML file
    version: str
    saved_by: str | None
    saved_at: datetime | None
    source_text: str
    active: bool


def _latest(session: Session) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).order_by(PolicyVersion.id.desc()).limit(1))


def active_policy(session: Session) -> Policy:
    """The policy new leads are classed by: the newest saved version, else the YAML file, with its budget
    conversion from the exchange rates in force (``crm_core.money``)."""
    latest = _latest(session)
    policy = Policy.model_validate(latest.document) if latest else current_policy()
    return with_rates(policy, current_rates(session))


def default_policy_text() -> str:
    return get_settings().policy_file.read_text(encoding="utf-8")


def _problems_of(error: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in error.errors()]


def validate_policy_text(session: Session, text: str) -> Policy:
    """The policy the YAML text describes, or InvalidPolicy with every problem found."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidPolicy([f"not valid YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise InvalidPolicy(["the policy must be a YAML mapping (key: value lines)"])
    try:
        policy = Policy.model_validate(document)
    except ValidationError as error:
        raise InvalidPolicy(_problems_of(error)) from None
    problems = []
    if not policy.version.strip():
        problems.append("version: give the policy a version label")
    if policy.temperature.warm_max_days < policy.temperature.hot_max_days:
        problems.append("temperature: warm_max_days must be at least hot_max_days")
    size = policy.score.fit_company_size
    if size.min > size.max:
        problems.append("score.fit_company_size: min must not exceed max")
    if isinstance(document.get("currency"), dict) and document["currency"].keys() & {
        "rates",
        "rates_taken_on",
    }:
        problems.append(
            "currency.rates: exchange rates are kept in one place for the policy and the KPIs; "
            "leave them out here and update them with `embudo rates import FILE`"
        )
    if not policy.sql_authorities:
        problems.append("sql_authorities: name at least one authority, or no lead can become SQL")
    taken = {current_policy().version, *session.scalars(select(PolicyVersion.version))}
    if policy.version in taken:
        problems.append(f"version: '{policy.version}' is already used; give the changed policy a new version")
    if problems:
        raise InvalidPolicy(problems)
    return policy


def save_policy(session: Session, text: str, saved_by: str) -> PolicyVersionOut:
    """Validate and store a new policy version; new leads are classed by it from now on."""
    policy = validate_policy_text(session, text)
    row = PolicyVersion(
        version=policy.version,
        document=policy.model_dump(mode="json"),
        source_text=text,
        saved_by=saved_by,
    )
    session.add(row)
    session.flush()
    return _out(row, active=True)


def _out(row: PolicyVersion, active: bool) -> PolicyVersionOut:
    return PolicyVersionOut(
        number=row.id,
        version=row.version,
        saved_by=row.saved_by,
        saved_at=row.saved_at,
        source_text=row.source_text,
        active=active,
    )


def policy_versions(session: Session) -> list[PolicyVersionOut]:
    """Every version, newest first, ending with the YAML file (version 0)."""
    rows = list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.id.desc())))
    versions = [_out(row, active=index == 0) for index, row in enumerate(rows)]
    versions.append(
        PolicyVersionOut(
            number=0,
            version=current_policy().version,
            saved_by=None,
            saved_at=None,
            source_text=default_policy_text(),
            active=not rows,
        )
    )
    return versions
