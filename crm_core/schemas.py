"""Pydantic models at crm_core's boundary: what callers send in and get back."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_core.models import ActivityKind, Authority, Qualification, Stage, Temperature
from crm_core.policy import Reason


class NewRep(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    languages: list[str] = Field(min_length=1)
    telegram_chat_id: int | None = None
    capacity: int = Field(default=20, ge=0)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @field_validator("languages")
    @classmethod
    def _normalise_languages(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value if code.strip()]
        for code in codes:
            if not (2 <= len(code) <= 8 and code.replace("-", "").isalpha()):
                raise ValueError(f"'{code}' is not a language code such as en or es")
        if not codes:
            raise ValueError("give at least one language code, such as en")
        return list(dict.fromkeys(codes))


class RepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    languages: list[str]
    telegram_chat_id: int | None
    capacity: int
    active: bool
    open_leads: int = 0


class ConversationRef(BaseModel):
    channel: str = Field(min_length=1, max_length=40)
    sender_id: str = Field(min_length=1, max_length=255)


class LeadOut(BaseModel):
    id: int
    name: str | None
    email: str | None
    phone: str | None
    company: str | None
    need: str | None
    budget_amount: Decimal | None
    budget_currency: str | None
    authority: Authority
    timeline_days: int | None
    consent: bool
    language: str
    qualification: Qualification
    temperature: Temperature
    score: int
    reasons: list[Reason]
    policy_version: str
    recheck_on: date | None
    stage: Stage
    assigned_rep: str | None
    assigned_rep_id: int | None
    channel: str | None
    conversation_id: str | None
    created_at: datetime


class NewDeal(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    value: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    expected_close_date: date | None = None
    stage: Stage | None = None

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class DealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lead_id: int
    title: str
    value: Decimal
    currency: str
    expected_close_date: date | None
    stage: Stage
    created_at: datetime
    closed_at: datetime | None


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lead_id: int
    rep_id: int | None
    kind: ActivityKind
    body: str
    due_at: datetime | None
    created_at: datetime
