"""Budgets: amount or range, currency and period, normalised to a yearly figure.

"$450 per month" → 5,400 USD a year (period "month"); "two to three thousand pounds" → 2,000–3,000 GBP;
"$30 per seat per month, we'd have 10 seats" → 3,600 USD a year. Counts of people ("we're 40 people"),
seats, durations ("in 2 months") and quarters ("Q3") are never amounts. "pesos" without a country are read
as Mexican pesos (MXN), our only peso market so far; no currency named → ``currency`` None (the policy reads
that as its own currency). Our own rules, not Duckling's: see ``_duckling`` for why.
"""

import itertools
import re
from dataclasses import dataclass
from decimal import Decimal

from crm_core.understanding.numbers import (
    HUNDREDS,
    HUNDREDS_PATTERN,
    NUMBER_WORD_PATTERN,
    NUMBER_WORDS,
    to_count,
    to_number,
)
from crm_core.understanding.people import parse_company_size, people_count_spans

PERIODS_PER_YEAR = {"year": 1, "quarter": 4, "month": 12, "week": 52}


@dataclass(frozen=True)
class Budget:
    """A budget. ``amount`` is the (lower) figure, ``amount_max`` the top of a range; both are yearly when the
    visitor stated a ``period`` ("month", "quarter", "week", "year"), a one-off total when ``period`` is None.
    ``seats`` is the seat count a per-seat price was multiplied by; ``per_seat`` without ``seats`` means the
    figure is for one seat (the message gave no count)."""

    amount: Decimal | None
    currency: str | None
    none_yet: bool = False
    amount_max: Decimal | None = None
    period: str | None = None
    per_seat: bool = False
    seats: int | None = None


_NO_BUDGET = re.compile(
    r"\b(no budget|not yet|none( yet)?|nothing|zero|don'?t have (a |any )?budget|no idea|not sure|"
    r"no money|undecided|tbd|sin presupuesto|no (tenemos|tengo|hay) presupuesto|todav[ií]a no|"
    r"a[uú]n no|no (lo )?s[eé]|ni idea|nada|ninguno|por definir|sin definir|no est[aá] definido)\b",
    re.I,
)
# Names and codes first: "$5,000 MXN" and "$8,000 pesos" are pesos; a bare "$" is a dollar. ISO codes count
# in capitals only: "cop", "pen" and "ars" are words too.
_CURRENCIES = (
    (re.compile(r"\bMXN\b|\bMX\$|(?i:\bpesos? mexicanos?\b)"), "MXN"),
    (re.compile(r"\bCOP\b|(?i:\bpesos? colombianos?\b)"), "COP"),
    (re.compile(r"\bARS\b|(?i:\bpesos? argentinos?\b)"), "ARS"),
    (re.compile(r"\bCLP\b|(?i:\bpesos? chilenos?\b)"), "CLP"),
    (
        re.compile(r"(?i:\bpesos?\b|\bmxn\b)"),
        "MXN",
    ),  # unqualified pesos: Mexican, our only peso market so far
    (re.compile(r"(?i:\busd\b|\bus\$|\bdollars?\b|\bbucks\b|\bd[oó]lar(es)?\b|\bpavos\b)"), "USD"),
    (re.compile(r"€|(?i:\beur\b|\beuros?\b)"), "EUR"),
    (re.compile(r"£|(?i:\bgbp\b|\bpounds?\b|\bquid\b|\blibras?\b)"), "GBP"),
    (re.compile(r"\b(CAD|AUD|CHF|JPY|CNY|INR|BRL|PEN|SEK|NOK|DKK|PLN)\b"), None),  # named by its code
    (re.compile(r"\$"), "USD"),
)
_SUFFIX = r"k|m|mm|thousand|million|grand|mil|millones|mill[oó]n|lucas"
_AMOUNT = re.compile(
    # digits anywhere but inside a word ("Q3"); number words only as whole words ("a" in "am" is not one)
    rf"(?<![\w.,])(?P<number>\d{{1,3}}(?:[,.]\d{{3}})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?|"
    rf"\b(?:{NUMBER_WORD_PATTERN})(?=\s))\s*(?P<suffix>{_SUFFIX})?\b"
    # "tres mil quinientos", "three thousand five hundred"
    rf"(?:\s+(?:and\s+|y\s+)?(?P<hundreds>{HUNDREDS_PATTERN})\b)?",
    re.I,
)
_MULTIPLIER = {
    "k": 1_000, "thousand": 1_000, "grand": 1_000, "mil": 1_000, "lucas": 1_000,
    "m": 1_000_000, "mm": 1_000_000, "million": 1_000_000, "millones": 1_000_000, "millón": 1_000_000,
    "millon": 1_000_000,
}  # fmt: skip
# What joins the two ends of a range: "10-15k", "from $5k to $8k", "entre 3 y 4 mil", "two to three thousand"
_RANGE_GAP = re.compile(r"\s*(?:[$€£]|usd|eur|gbp)?\s*(?:-|–|—|to|and|or|y|a|o|hasta)\s*(?:[$€£])?\s*", re.I)
_TIME_UNITS = r"days?|weeks?|months?|years?|quarters?|d[ií]as|semanas?|mes(?:es)?|años?|trimestres?"
_SEVERAL = "|".join(re.escape(word) for word, value in NUMBER_WORDS.items() if value >= 2)
# Not amounts: durations ("in a month", "for 12 months", "six weeks"), years ("in 2027"), dates ("June 1st").
# "150 a month" keeps its "a month": that is a period.
_NOT_AMOUNTS = re.compile(
    rf"\b(?:in|within|for|over|during|next|en|dentro de|durante|para|de aqu[ií] a)\s+(?:the next\s+)?"
    rf"(?:\d+|{NUMBER_WORD_PATTERN})\s+(?:{_TIME_UNITS})\b(?:\s+(?:and a half|y medio))?|"
    rf"(?<![\w/.,])(?:\d+|\b(?:{_SEVERAL}))\s+(?:{_TIME_UNITS})\b|"
    r"\b(?:in|by|for|until|from|en|de|del|para|hasta|desde)\s+(?:19|20)\d\d\b|"
    r"\b\d+(?:[.,]\d+)?\s?%|\b\d{1,2}(?:st|nd|rd|th)\b|"
    r"\b\d{1,2} de (?:ene|feb|mar|abr|may|jun|jul|ago|sep|set|oct|nov|dic)\w*",
    re.I,
)
_PERIODS = (
    ("month", r"\b(?:a|per|each|every)\s+(?:month|mo|mth)\b|/\s?(?:month|mo|mth)\b|\bmonthly\b|\bp/m\b|"
     r"\bal mes\b|\bpor mes\b|\b(?:usuario|user|seat|puesto|licencia) (?:y|and) mes\b|"
     r"\bmensual(?:es|mente)?\b|\bcada mes\b|/\s?mes\b|\bmes a mes\b"),
    ("quarter", r"\b(?:a|per|each|every)\s+quarter\b|\bquarterly\b|\bal trimestre\b|\bpor trimestre\b|"
     r"\btrimestral(?:es|mente)?\b"),
    ("week", r"\b(?:a|per|each|every)\s+week\b|\bweekly\b|\ba la semana\b|\bpor semana\b|\bsemanal(?:es)?\b"),
    ("year", r"\b(?:a|per|each|every)\s+(?:year|yr|annum)\b|/\s?(?:year|yr)\b|\b(?:annual(?:ly)?|yearly)\b|"
     r"\bal año\b|\bpor año\b|\banual(?:es|mente)?\b|\bcada año\b|/\s?año\b|\bp\.a\.?"),
)  # fmt: skip
_PERIOD_PATTERNS = tuple((name, re.compile(pattern, re.I)) for name, pattern in _PERIODS)
_PER_SEAT = re.compile(
    r"(?:\b(?:per|a|each|every)\s+|/\s?)(?:seat|user|licen[cs]e|agent|head|person)\b|"
    r"\bpor (?:usuario|puesto|licencia|asiento|agente|persona|cabeza)\b|\bcada usuario\b|/\s?usuario\b",
    re.I,
)
_SEAT_COUNT = re.compile(
    rf"(?<!per )(?<!a )(?<!por )\b(?P<count>\d+|{NUMBER_WORD_PATTERN})\s+"
    r"(?:seats|users|licen[cs]es|agents|usuarios|licencias|puestos|agentes|asientos)\b",
    re.I,
)


@dataclass(frozen=True)
class _Amount:
    value: Decimal
    suffix: str
    spelled: bool
    start: int
    end: int


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _money_text(text: str) -> str:
    """``text`` with every number that is not money blanked out: people, seats, durations, dates."""
    spans = people_count_spans(text)
    spans += [m.span() for m in _SEAT_COUNT.finditer(text)]
    spans += [m.span() for m in _NOT_AMOUNTS.finditer(text)]
    return _blank(text, spans)


def _amounts(text: str) -> list[_Amount]:
    found = []
    for match in _AMOUNT.finditer(text):
        value = to_number(match["number"])
        if value is None:
            continue
        suffix = (match["suffix"] or "").lower()
        spelled = match["number"].lower() in NUMBER_WORDS
        if spelled and (suffix in ("k", "m", "mm") or (not suffix and value == 1)):
            continue  # "am" is not "a million": letter suffixes only follow digits; "a", "un" alone are words
        if match["hundreds"] and suffix in ("mil", "thousand"):
            value += Decimal(HUNDREDS[match["hundreds"].lower()]) / 1000
        found.append(_Amount(value, suffix, spelled, match.start(), match.end()))
    return found


def _value(amount: _Amount) -> Decimal:
    return amount.value * _MULTIPLIER.get(amount.suffix, 1)


def _whole(value: Decimal) -> Decimal:
    """2500.0 → 2500: amounts are stored as text, and "2500.0" reads like a price in cents."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _is_figure(amount: _Amount) -> bool:
    """A bare "a", "one", "un" is no amount; a spelled number counts only with its multiplier."""
    return not amount.spelled or bool(amount.suffix) or amount.value >= 100


def _range(text: str, amounts: list[_Amount]) -> tuple[Decimal, Decimal] | None:
    """Two amounts joined by "-", "to", "y"…, the first taking the second's multiplier ("12-15k")."""
    for low, high in itertools.pairwise(amounts):
        if not _is_figure(high) or not _RANGE_GAP.fullmatch(text[low.end : high.start]):
            continue
        low_value, high_value = _value(low), _value(high)
        if not low.suffix and high.suffix and low.value < high.value:
            low_value = low.value * _MULTIPLIER.get(high.suffix, 1)
        if low_value <= high_value:
            return low_value, high_value
    return None


def _currency(text: str) -> str | None:
    for pattern, code in _CURRENCIES:
        if match := pattern.search(text):
            return code or match.group().upper()
    return None


def _period(text: str) -> str | None:
    return next((name for name, pattern in _PERIOD_PATTERNS if pattern.search(text)), None)


def _seats(text: str) -> int | None:
    if match := _SEAT_COUNT.search(text):
        return to_count(match["count"])
    return None


def parse_budget(text: str) -> Budget | None:
    """A budget from free text; None if none is found.

    "about $20k", "12.500 €", "entre 3 y 4 mil euros", "unos 250 euros mensuales" (3,000 a year),
    "north of 50k EUR", "1,5 millones de pesos", "no budget yet" (``none_yet``).
    """
    money_text = _money_text(text)
    amounts = _amounts(money_text)
    figures = [amount for amount in amounts if _is_figure(amount)]
    if not figures:
        return Budget(amount=None, currency=None, none_yet=True) if _NO_BUDGET.search(text) else None
    low_high = _range(money_text, amounts)
    low, high = low_high if low_high else (_value(figures[0]), None)
    period, per_seat = _period(money_text), bool(_PER_SEAT.search(text))
    # "€20 per person, we're 40 people": the head count is the seat count
    seats = _seats(text) or (parse_company_size(text) if per_seat else None)
    factor = Decimal(PERIODS_PER_YEAR.get(period or "year", 1)) * (seats if per_seat and seats else 1)
    return Budget(
        amount=_whole(low * factor),
        currency=_currency(text),
        amount_max=_whole(high * factor) if high is not None else None,
        period=period,
        per_seat=per_seat,
        seats=seats if per_seat else None,
    )


def mentions_budget(text: str) -> bool:
    """Whether a message clearly states a budget (a currency, an amount suffix, a period or the word budget).

    Counts of people never are one: "about 20k, we're 40 people" is a budget of 20k, "we're 40 people" none.
    """
    if re.search(r"\b(budget|presupuesto)\b", text, re.I):
        return parse_budget(text) is not None
    money_text = _money_text(text)
    figures = [amount for amount in _amounts(money_text) if _is_figure(amount)]
    if not figures:
        return False
    if _currency(money_text) is not None or _period(money_text) is not None:
        return True
    return any(amount.suffix for amount in figures)
