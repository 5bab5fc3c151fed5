"""Exchange rates: the one versioned table Embudo converts money with, and the conversion itself.

The rates file (``EMBUDO_RATES_FILE``, ``crm_core/exchange_rates.yml``) is version 0; ``import_rates``
(``embudo rates import FILE``) checks a file of the same layout and stores it as a new version, and the
newest version is in force for the KPIs, quotas, forecast and the policy's budget check alike. A rate is
what one unit of a currency is worth in the reporting currency; converting between two other currencies
goes through it. A currency without a rate converts to None — callers flag it, never count it as 0.
"""

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.errors import CrmError
from crm_core.models import ExchangeRateVersion

# ISO 4217 codes of currencies in use: a code outside this list is a typo ("EURO", "USS"), not a currency.
# fmt: off
ISO_4217 = frozenset({
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY",
    "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP",
    "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR",
    "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF",
    "XPF", "YER", "ZAR", "ZMW", "ZWG",
})
# fmt: on


def _known(code: str) -> str:
    if code not in ISO_4217:
        raise ValueError(f"'{code}' is not an ISO 4217 currency code (like EUR, USD, GBP, MXN)")
    return code


def _unknown(codes: list[str]) -> str:
    plural = "s" if len(codes) > 1 else ""
    return f"unknown currency code{plural} {', '.join(codes)}: use ISO 4217 codes like USD, GBP, MXN"


class ExchangeRates(BaseModel):
    """One version of the rates: units of ``reporting_currency`` per unit of each listed currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=40)
    reporting_currency: str
    taken_on: date
    rates: dict[str, Annotated[Decimal, Field(gt=0)]]

    @field_validator("reporting_currency")
    @classmethod
    def _reporting_is_known(cls, code: str) -> str:
        return _known(code)

    @field_validator("rates")
    @classmethod
    def _rates_are_known(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        unknown = sorted(code for code in rates if code not in ISO_4217)
        if unknown:
            raise ValueError(_unknown(unknown))
        return rates

    @model_validator(mode="after")
    def _reporting_not_listed(self) -> "ExchangeRates":
        if self.reporting_currency in self.rates:
            raise ValueError(f"leave {self.reporting_currency} out of rates: it is the reporting currency")
        return self

    def rate(self, code: str) -> Decimal | None:
        """What one unit of ``code`` is worth in the reporting currency; None without a rate."""
        code = code.upper()
        return Decimal(1) if code == self.reporting_currency else self.rates.get(code)

    def convert(self, amount: Decimal, source: str, target: str | None = None) -> Decimal | None:
        """``amount`` in ``source`` expressed in ``target`` (the reporting currency by default)."""
        target = (target or self.reporting_currency).upper()
        if source.upper() == target:
            return amount
        from_rate, to_rate = self.rate(source), self.rate(target)
        if from_rate is None or to_rate is None:
            return None
        return amount * from_rate / to_rate

    def currencies(self) -> list[str]:
        return [self.reporting_currency, *sorted(self.rates)]


class InvalidRates(CrmError):
    """A rates file that was not imported; ``problems`` lists every reason, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("The exchange rates were not imported: " + "; ".join(problems))
        self.problems = problems


class RatesVersionOut(BaseModel):
    number: int  # 0 is the rates file
    version: str
    reporting_currency: str
    taken_on: date
    rates: dict[str, Decimal]
    imported_by: str | None
    imported_at: datetime | None
    active: bool


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        where = ".".join(map(str, item["loc"])) or "file"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "greater_than":
            message = "a rate must be greater than 0"
        problems.append(f"{where}: {message}")
    return problems


def parse_rates(text: str) -> ExchangeRates:
    """The rates a YAML text describes, or InvalidRates naming every problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidRates([f"not valid YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise InvalidRates(
            ["the file must be a YAML mapping with version, reporting_currency, taken_on, rates"]
        )
    if isinstance(document.get("rates"), dict):  # codes as typed: "usd" is USD, "EURO" stays wrong
        document["rates"] = {str(code).strip().upper(): rate for code, rate in document["rates"].items()}
    if isinstance(document.get("reporting_currency"), str):
        document["reporting_currency"] = document["reporting_currency"].strip().upper()
    problems = []
    if isinstance(document.get("rates"), dict):  # said even when a rate is wrong too (pydantic stops)
        unknown = sorted(code for code in document["rates"] if code not in ISO_4217)
        if unknown:
            problems.append("rates: " + _unknown(unknown))
    try:
        rates = ExchangeRates.model_validate(document)
    except ValidationError as error:
        problems += [problem for problem in _problems(error) if problem not in problems]
    if problems:
        raise InvalidRates(problems)
    return rates


def load_rates(path: Path) -> ExchangeRates:
    return parse_rates(path.read_text(encoding="utf-8"))


@lru_cache
def _file_rates(path: Path) -> ExchangeRates:
    return load_rates(path)


def default_rates() -> ExchangeRates:
    """Version 0: the rates file."""
    return _file_rates(get_settings().rates_file)


def _latest(session: Session) -> ExchangeRateVersion | None:
    return session.scalar(select(ExchangeRateVersion).order_by(ExchangeRateVersion.id.desc()).limit(1))


def current_rates(session: Session) -> ExchangeRates:
    """The rates in force: the newest imported version, else the rates file."""
    latest = _latest(session)
    return ExchangeRates.model_validate(latest.document) if latest else default_rates()


def import_rates(session: Session, text: str, imported_by: str) -> RatesVersionOut:
    """Check a rates file and store it as the newest version; any problem and nothing is written."""
    rates = parse_rates(text)
    taken = {default_rates().version, *session.scalars(select(ExchangeRateVersion.version))}
    if rates.version in taken:
        raise InvalidRates([f"version: '{rates.version}' is already used; give the new rates a new version"])
    row = ExchangeRateVersion(
        version=rates.version,
        document=rates.model_dump(mode="json"),
        source_text=text,
        imported_by=imported_by.strip() or "someone",
    )
    session.add(row)
    session.flush()
    return _out(row.id, rates, row.imported_by, row.imported_at, active=True)


def _out(
    number: int, rates: ExchangeRates, by: str | None, at: datetime | None, active: bool
) -> RatesVersionOut:
    return RatesVersionOut(
        number=number,
        version=rates.version,
        reporting_currency=rates.reporting_currency,
        taken_on=rates.taken_on,
        rates=dict(rates.rates),
        imported_by=by,
        imported_at=at,
        active=active,
    )


def rate_versions(session: Session) -> list[RatesVersionOut]:
    """Every version, newest (in force) first, ending with the rates file (version 0)."""
    rows = list(session.scalars(select(ExchangeRateVersion).order_by(ExchangeRateVersion.id.desc())))
    versions = [
        _out(row.id, ExchangeRates.model_validate(row.document), row.imported_by, row.imported_at, i == 0)
        for i, row in enumerate(rows)
    ]
    versions.append(_out(0, default_rates(), None, None, active=not rows))
    return versions
