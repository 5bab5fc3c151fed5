"""Turning what visitors type into values the policy understands. Pure functions, unit-tested."""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email

from crm_core.models import Authority

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple of": 2, "few": 3,
    "a couple of": 2, "a few": 3,
}  # fmt: skip
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365, "quarter": 91}


@dataclass(frozen=True)
class Budget:
    amount: Decimal | None
    currency: str | None
    none_yet: bool = False


_NO_BUDGET = re.compile(
    r"\b(no budget|not yet|none( yet)?|nothing|zero|don'?t have (a |any )?budget|no idea|not sure|"
    r"no money|undecided|tbd)\b",
    re.I,
)
_CURRENCIES = (
    (re.compile(r"\$|\busd\b|\bdollars?\b|\bbucks\b", re.I), "USD"),
    (re.compile(r"€|\beur\b|\beuros?\b", re.I), "EUR"),
    (re.compile(r"£|\bgbp\b|\bpounds?\b", re.I), "GBP"),
)
_AMOUNT = re.compile(
    r"(?P<number>\d{1,3}(?:[,.]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(?P<suffix>k|m|thousand|million|grand)?\b",
    re.I,
)
_MULTIPLIER = {"k": 1_000, "thousand": 1_000, "grand": 1_000, "m": 1_000_000, "million": 1_000_000}


def parse_budget(text: str) -> Budget | None:
    """A budget from free text ("about $20k", "50,000 euros", "no budget yet"); None if none is found."""
    match = _AMOUNT.search(text)
    if match is None:
        return Budget(amount=None, currency=None, none_yet=True) if _NO_BUDGET.search(text) else None
    digits = match["number"]
    if re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+", digits):
        digits = re.sub(r"[,.]", "", digits)
    else:
        digits = digits.replace(",", "")
    try:
        amount = Decimal(digits)
    except InvalidOperation:
        return None
    amount *= _MULTIPLIER.get((match["suffix"] or "").lower(), 1)
    currency = next((code for pattern, code in _CURRENCIES if pattern.search(text)), None)
    return Budget(amount=amount, currency=currency)


_UNKNOWN_TIME = re.compile(
    r"\b(not sure|no idea|don'?t know|unsure|no rush|no timeframe|no time ?frame|whenever|someday|"
    r"eventually|no hurry|undecided|maybe later)\b",
    re.I,
)
_FIXED_TIMES = (
    (
        re.compile(
            r"\b(asap|as soon as possible|right now|now|immediately|urgent(ly)?|today|tomorrow)\b", re.I
        ),
        7,
    ),
    (re.compile(r"\bthis week\b", re.I), 7),
    (re.compile(r"\bnext week\b", re.I), 14),
    (re.compile(r"\bthis month\b", re.I), 30),
    (re.compile(r"\bnext month\b", re.I), 30),
    (re.compile(r"\bthis quarter\b", re.I), 90),
    (re.compile(r"\bnext quarter\b", re.I), 180),
    (re.compile(r"\bthis year\b", re.I), 365),
    (re.compile(r"\bnext year\b", re.I), 365),
)
_IN_PERIOD = re.compile(
    r"(?P<count>\d+|a couple of|couple of|a few|few|an?|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve)\s+(?P<unit>day|week|month|year|quarter)s?\b",
    re.I,
)


def parse_timeline_days(text: str) -> int | None:
    """Days until the visitor needs it ("asap" → 7, "in two months" → 60); None when unknown."""
    if _UNKNOWN_TIME.search(text):
        return None
    match = _IN_PERIOD.search(text)
    if match:
        count_text = match["count"].lower()
        count = int(count_text) if count_text.isdigit() else _NUMBER_WORDS[count_text]
        return count * _UNIT_DAYS[match["unit"].lower()]
    for pattern, days in _FIXED_TIMES:
        if pattern.search(text):
            return days
    return None


_INFLUENCER = re.compile(
    r"\b(ask|check with|run it by|talk to|convince) (my|our|the) (boss|manager|director|team|ceo|cto|cfo)\b|"
    r"\bnot the (decision[- ]maker|one who decides)\b|\bneeds? (approval|sign[- ]off)\b|\brecommend\b|"
    r"\b(boss|manager|board) (decides|approves)\b|\binfluence\b",
    re.I,
)
_DECISION_MAKER = re.compile(
    r"\b(ceo|cto|cfo|coo|cio|cmo|founder|co-?founder|owner|president|vp|vice president|head of|director|"
    r"partner|decision[- ]maker|i decide|i make the (decision|call)|i sign|my (own )?call|i'?m the boss|"
    r"managing director|general manager|chief|i own|i run|i'?m in charge|it'?s my (company|business)|"
    r"my (own )?(company|business)|budget holder)\b",
    re.I,
)
_RESEARCHER = re.compile(r"\b(student|research(ing|er)?|intern|just looking|curious|for a project)\b", re.I)


def parse_authority(text: str) -> Authority:
    """Who the visitor is in the buying decision, from how they describe their role."""
    if _INFLUENCER.search(text):
        return Authority.INFLUENCER
    if _DECISION_MAKER.search(text):
        return Authority.DECISION_MAKER
    if _RESEARCHER.search(text):
        return Authority.RESEARCHER
    return Authority.UNKNOWN


_EMAIL_CANDIDATE = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


def parse_email(text: str) -> str | None:
    """The normalised e-mail address in ``text``, or None when there is no valid one."""
    match = _EMAIL_CANDIDATE.search(text)
    if match is None:
        return None
    try:
        return validate_email(match.group().rstrip("."), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


_NAME_PREFIX = re.compile(
    r"^\s*(hi|hello|hey)?[,! ]*(my name is|my name's|name is|i am|i'm|im|it's|its|this is|call me)\s+", re.I
)
_COMPANY_PREFIX = re.compile(
    r"^\s*(i work (at|for)|we are|we're|it's|its|the company is|company is|my company is|at|for|from)\s+",
    re.I,
)


def _tidy(text: str, prefix: re.Pattern[str]) -> str | None:
    value = prefix.sub("", text.strip()).strip(" .!,")
    return value[:200] or None


def parse_person_name(text: str) -> str | None:
    """A person's name with "my name is …" and similar lead-ins removed."""
    return _tidy(text, _NAME_PREFIX)


def parse_company(text: str) -> str | None:
    """A company name with "I work at …" and similar lead-ins removed."""
    return _tidy(text, _COMPANY_PREFIX)
