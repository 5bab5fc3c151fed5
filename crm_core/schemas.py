"""Pydantic models at crm_core's boundary: what callers send in and get back."""

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from crm_core.limits import (
    CODE_LENGTH,
    LANGUAGES_LENGTH,
    LIST_LENGTH,
    ChatId,
    Count,
    Day,
    Moment,
    Name,
)
from crm_core.models import ActivityKind, Authority, Qualification, Stage, Temperature
from crm_core.money import ISO_4217
from crm_core.people.working_hours import WorkingHours
from crm_core.qualification.policy import Reason

ZONES = frozenset(available_timezones())
LANGUAGE_CODE = r"^ *[A-Za-z]{2,3}(-[A-Za-z]{2,4})? *$"  # en, es, pt-BR
TERRITORY_CODE = r"^ *[A-Za-z]{2}(-[A-Za-z0-9]{1,3})? *$"  # ISO 3166: ES, MX, US-CA
# What the schema promises is accepted as a rep's calendar address (the validator accepts more)
CALENDAR_URL = (
    r"^https?://[A-Za-z0-9-]{3,63}(\.[A-Za-z0-9-]{1,63}){0,3}(:[0-9]{1,5})?/[A-Za-z0-9._~%/-]{0,200}$"
)
# The schema's promise for a rep's e-mail: a plain address (the validator accepts more: any valid address)
PLAIN_EMAIL = (
    r"^[A-Za-z0-9]{1,20}([._+-][A-Za-z0-9]{1,20}){0,2}"
    r"@([A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,20})?\.){1,3}[A-Za-z]{2,6}$"
)


def _code(pattern: str, what: str, case: Callable[[str], str]) -> Callable[[str], str]:
    """The check of a list entry such as a language or territory code; its JSON schema says the same pattern
    (so clients and schemathesis know what is accepted), the check words the refusal."""

    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"'{value[:CODE_LENGTH]}' is not {what}")
        return case(value.strip())

    return check


LanguageCode = Annotated[
    str,
    AfterValidator(_code(LANGUAGE_CODE, "a language code such as en or es", str.lower)),
    Field(json_schema_extra={"pattern": LANGUAGE_CODE}),
]
TerritoryCode = Annotated[
    str,
    AfterValidator(_code(TERRITORY_CODE, "a country code such as ES or MX (or a region: US-CA)", str.upper)),
    Field(json_schema_extra={"pattern": TERRITORY_CODE}),
]


def _distinct(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


Languages = Annotated[
    list[LanguageCode], Field(min_length=1, max_length=LANGUAGES_LENGTH), AfterValidator(_distinct)
]
Territories = Annotated[list[TerritoryCode], Field(max_length=LIST_LENGTH), AfterValidator(_distinct)]


def _check_timezone(value: str) -> str:
    if value not in ZONES:  # not ZoneInfo(value): a folder of the zone database ("America") is no zone
        raise ValueError(f"'{value[:64]}' is not a time zone such as Europe/Madrid")
    return value


TimeZoneName = Annotated[
    str, AfterValidator(_check_timezone), WithJsonSchema({"type": "string", "enum": sorted(ZONES)})
]


class NewRep(BaseModel):
    name: Name = Field(min_length=1)
    languages: Languages
    telegram_chat_id: ChatId | None = None
    email: str | None = Field(default=None, max_length=320, json_schema_extra={"pattern": PLAIN_EMAIL})
    capacity: Count = 20
    territories: Territories = Field(default_factory=list)
    timezone: TimeZoneName = "UTC"
    working_hours: WorkingHours = Field(default_factory=dict)
    is_admin: bool = False

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return validate_email(value.strip(), check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"'{value}' is not a valid e-mail address: {error}") from None

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class RepUpdate(BaseModel):
    """Fields to change on a rep; None leaves a field as it is."""

    model_config = ConfigDict(extra="forbid")

    languages: Languages | None = None
    capacity: Count | None = None
    active: bool | None = None
    territories: Territories | None = None
    timezone: TimeZoneName | None = None
    working_hours: WorkingHours | None = None
    away_until: Moment | None = None
    clear_away: bool = False
    is_admin: bool | None = None
    # The rep's CalDAV calendar (crm_core.scheduling.calendars): set the URL with its user and password, or
    # clear it.
    caldav_url: str | None = Field(default=None, max_length=500, json_schema_extra={"pattern": CALENDAR_URL})
    caldav_username: str | None = Field(default=None, max_length=200)
    caldav_password: str | None = Field(default=None, max_length=500)
    clear_caldav: bool = False

    @field_validator("caldav_url")
    @classmethod
    def _calendar_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")) or len(value) < 10 or " " in value:
            raise ValueError(f"'{value[:80]}' is not a calendar address: write it like https://host/path/")
        return value

    @field_validator("away_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("away_until needs a time zone")
        return value


class RepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    languages: list[str]
    telegram_chat_id: int | None
    email: str | None = None
    capacity: int
    active: bool
    territories: list[str] = []
    timezone: str = "UTC"
    working_hours: dict[str, list[str]] = {}
    away_until: datetime | None = None
    is_admin: bool = False
    open_leads: int = 0
    # The CalDAV calendar whose busy times are taken out of the slots (never its password).
    caldav_url: str | None = None
    caldav_username: str | None = None
    # queued leads handed out because this rep was just added or changed (not serialised: a listing has none)
    picked_up: list[int] = Field(default_factory=list, exclude=True)


class ConversationRef(BaseModel):
    channel: str = Field(min_length=1, max_length=40)
    sender_id: str = Field(min_length=1, max_length=255)


class WinFactor(BaseModel):
    """One feature of a lead and what it adds to the learned win probability, in log-odds (+ for,
    − against): ``label`` says both, e.g. "authority: decision maker +0.8"."""

    feature: str
    weight: float
    label: str


class CalibrationBin(BaseModel):
    """One tenth of the held-out leads, by predicted probability (lowest first)."""

    decile: int
    leads: int
    predicted: float  # the mean predicted win probability
    observed: float  # the share of them that was won


class WinMetrics(BaseModel):
    """How a learned win probability did on the newest closed leads, which it never saw in training."""

    train_leads: int
    train_won: int
    held_out_leads: int
    held_out_won: int
    auc: float
    brier: float
    base_rate: float  # the share won among the held-out leads
    top_decile_lift: float  # the share won in the top tenth by probability, over the base rate
    calibration: list[CalibrationBin]
    features: int  # how many features the model weighs


class WinModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    trained_at: datetime
    trained_by: str | None
    window_start: datetime
    window_end: datetime
    held_out_from: datetime
    won: int
    lost: int
    metrics: WinMetrics


class WinModelStatus(BaseModel):
    """The model open leads are scored by, or the sentence that says why there is none."""

    model: WinModelOut | None
    reason: str | None = None


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
    source: str | None = None
    qualification: Qualification
    temperature: Temperature
    score: int
    reasons: list[Reason]
    policy_version: str
    recheck_on: date | None
    recycled_from_id: int | None = None  # won back: the lost lead whose win-back message was answered
    stage: Stage
    assigned_rep: str | None
    assigned_rep_id: int | None
    channel: str | None
    conversation_id: str | None
    created_at: datetime
    accept_by: datetime | None = None  # the owner's acceptance deadline while the clock runs
    overdue: bool = False  # waited longer than the SLA (crm_core.assignment.sla.is_overdue)
    # The learned chance of winning an open lead (crm_core.learning.win_probability) and its main factors for
    # and against; None and [] for a closed lead, or while no model has been trained.
    win_probability: float | None = None
    win_factors: list[WinFactor] = []


def currency_code(value: str) -> str:
    """An ISO 4217 code (any case); anything else (e.g. "EURO") is refused, never guessed at."""
    code = value.strip(" ").upper()
    if code not in ISO_4217:  # one list of codes, crm_core.money's
        raise ValueError(
            f"'{value}' is not a currency code: use a three-letter ISO code such as EUR, USD or MXN"
        )
    return code


# The schema's word for the same rules (clients, schemathesis): any case, spaces around allowed.
CURRENCY_PATTERN = (
    "^ *(?:" + "|".join("".join(f"[{c}{c.lower()}]" for c in code) for code in sorted(ISO_4217)) + ") *$"
)
Currency = Annotated[
    str, AfterValidator(currency_code), WithJsonSchema({"type": "string", "pattern": CURRENCY_PATTERN})
]

# A deal's amount: up to 12 digits and cents, above zero; a string ("12000.50") or a whole number, never a
# float (which cannot hold every amount in cents exactly).
AMOUNT_PATTERN = (
    r"^0*(?:[1-9][0-9]{0,11}(?:\.[0-9]{0,2})?|\.(?:0[1-9]|[1-9][0-9]?)|0\.(?:0[1-9]|[1-9][0-9]?))$"
)


def _exact_amount(value: object) -> object:
    inexact = isinstance(value, float) and not value.is_integer()
    if inexact or (isinstance(value, str) and not re.fullmatch(AMOUNT_PATTERN, value)):
        raise ValueError('give the amount as a number with at most 12 digits and 2 decimals, e.g. "12000.50"')
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_exact_amount),
    Field(gt=0, max_digits=14, decimal_places=2),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {"type": "integer", "minimum": 1, "maximum": 10**12 - 1},
            ]
        }
    ),
]


class NewDeal(BaseModel):
    title: Name = Field(min_length=1)
    value: Amount
    currency: Currency
    expected_close_date: Day | None = None
    stage: Stage | None = None


class DealUpdate(BaseModel):
    """What changes on a deal: only the fields given (``expected_close_date: null`` clears the date).
    Its stage moves through ``pipeline.move_deal``."""

    title: Name | None = Field(default=None, min_length=1)
    value: Amount | None = None
    currency: Currency | None = None
    expected_close_date: Day | None = None


class DealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lead_id: int | None  # None: the lead's contact was erased; the deal's figures stay, anonymised
    title: str
    value: Decimal
    currency: str
    expected_close_date: date | None
    stage: Stage
    created_at: datetime
    closed_at: datetime | None
    lost_reason: str | None = None
    recheck_on: date | None = None  # a lost deal's re-check (crm_core.outreach.winback); cleared once made


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lead_id: int
    rep_id: int | None
    kind: ActivityKind
    body: str
    due_at: datetime | None
    done_at: datetime | None = None
    created_at: datetime
    made_by: str | None = None  # who logged it; None before authors were recorded
    done_by: str | None = None
