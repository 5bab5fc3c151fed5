"""Turning what visitors type into values the policy understands. Pure functions, unit-tested.

English and Spanish. Libraries do the hard parts: ``phonenumbers`` (E.164), ``email-validator``,
``dateparser`` (absolute dates such as "by March 15" / "el 15 de marzo") and ``lingua`` (language
detection); the small tables here cover what those libraries do not (amount suffixes like "50k" or
"20 mil", relative periods, quarters, roles).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crm_core.models import Authority

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "hundred": 100, "a hundred": 100, "couple of": 2, "few": 3, "a couple of": 2, "a few": 3,
    "un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "veinte": 20, "treinta": 30,
    "cuarenta": 40, "cincuenta": 50, "cien": 100, "un par de": 2, "par de": 2, "unos": 3, "unas": 3,
    "unos pocos": 3, "unas pocas": 3,
}  # fmt: skip
_UNIT_DAYS = {
    "day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365, "quarter": 91,
    "día": 1, "dia": 1, "semana": 7, "quincena": 15, "mes": 30, "año": 365, "ano": 365, "trimestre": 91,
}  # fmt: skip
_NUMBER_WORD_PATTERN = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))


# --------------------------------------------------------------------------------------------- budget


@dataclass(frozen=True)
class Budget:
    """A budget: ``amount`` is the (lower) figure, ``amount_max`` the top of a range when one was given."""

    amount: Decimal | None
    currency: str | None
    none_yet: bool = False
    amount_max: Decimal | None = None


_NO_BUDGET = re.compile(
    r"\b(no budget|not yet|none( yet)?|nothing|zero|don'?t have (a |any )?budget|no idea|not sure|"
    r"no money|undecided|tbd|sin presupuesto|no (tenemos|tengo|hay) presupuesto|todav[ií]a no|"
    r"a[uú]n no|no (lo )?s[eé]|ni idea|nada|ninguno|por definir|sin definir|no est[aá] definido)\b",
    re.I,
)
_CURRENCIES = (
    (re.compile(r"\$|\busd\b|\bdollars?\b|\bbucks\b|\bd[oó]lar(es)?\b", re.I), "USD"),
    (re.compile(r"€|\beur\b|\beuros?\b", re.I), "EUR"),
    (re.compile(r"£|\bgbp\b|\bpounds?\b|\blibras?\b", re.I), "GBP"),
    (re.compile(r"\bmxn\b|\bpesos mexicanos\b", re.I), "MXN"),
)
_SUFFIX = r"k|m|mm|thousand|million|grand|mil|millones|mill[oó]n|lucas"
_AMOUNT = re.compile(
    # digits anywhere but inside a word ("Q3"); number words only as whole words ("a" in "am" is not one)
    rf"(?<![\w.,])(?P<number>\d{{1,3}}(?:[,.]\d{{3}})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?|"
    rf"\b(?:{_NUMBER_WORD_PATTERN})(?=\s))\s*(?P<suffix>{_SUFFIX})?\b",
    re.I,
)
_MULTIPLIER = {
    "k": 1_000, "thousand": 1_000, "grand": 1_000, "mil": 1_000, "lucas": 1_000,
    "m": 1_000_000, "mm": 1_000_000, "million": 1_000_000, "millones": 1_000_000, "millón": 1_000_000,
    "millon": 1_000_000,
}  # fmt: skip
_RANGE_WORDS = re.compile(r"\b(between|from|entre|de)\b.*\b(and|to|y|a)\b|[-–]|\bto\b|\ba\b", re.I)


def _number(text: str) -> Decimal | None:
    """'20,000' / '20.000' → 20000; '1.5' / '1,5' → 1.5; 'twenty' / 'veinte' → 20."""
    lowered = text.lower()
    if lowered in _NUMBER_WORDS:
        return Decimal(_NUMBER_WORDS[lowered])
    if re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+", text):
        text = re.sub(r"[,.]", "", text)
    elif re.fullmatch(r"\d{1,3}(?:,\d{3})+\.\d+", text):
        text = text.replace(",", "")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d+", text):
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _amounts(text: str) -> list[tuple[Decimal, str]]:
    found = []
    for match in _AMOUNT.finditer(text):
        value = _number(match["number"])
        suffix = (match["suffix"] or "").lower()
        if value is None:
            continue
        spelled = match["number"].lower() in _NUMBER_WORDS
        if spelled and not suffix and value < 100:
            continue  # "a", "one", "un" alone are not amounts
        if spelled and suffix in ("k", "m", "mm"):
            continue  # "am" is not "a million": letter suffixes only follow digits
        found.append((value, suffix))
    return found


def parse_budget(text: str) -> Budget | None:
    """A budget from free text; None if none is found.

    "about $20k", "50,000 euros", "20 mil euros", "between 10 and 20k", "1,5 millones", "no budget yet".
    """
    amounts = _amounts(text)
    if not amounts:
        return Budget(amount=None, currency=None, none_yet=True) if _NO_BUDGET.search(text) else None
    currency = next((code for pattern, code in _CURRENCIES if pattern.search(text)), None)
    values = [value * _MULTIPLIER.get(suffix, 1) for value, suffix in amounts]
    if len(amounts) >= 2 and _RANGE_WORDS.search(text):
        (low, low_suffix), (high, high_suffix) = amounts[0], amounts[1]
        low_value, high_value = values[0], values[1]
        if not low_suffix and high_suffix and low < high:  # "10 to 20k": the suffix counts for both
            low_value = low * _MULTIPLIER.get(high_suffix, 1)
        if low_value <= high_value:
            return Budget(amount=low_value, currency=currency, amount_max=high_value)
    return Budget(amount=values[0], currency=currency)


def mentions_budget(text: str) -> bool:
    """Whether a message clearly states a budget (a currency or an amount suffix, or the word budget)."""
    if re.search(r"\b(budget|presupuesto)\b", text, re.I):
        return parse_budget(text) is not None
    if any(pattern.search(text) for pattern, _ in _CURRENCIES):
        return bool(_amounts(text))
    return any(suffix for _, suffix in _amounts(text)) and parse_budget(text) is not None


# ------------------------------------------------------------------------------------------- timeline

_UNKNOWN_TIME = re.compile(
    r"\b(not sure|no idea|don'?t know|unsure|no rush|no timeframe|no time ?frame|whenever|someday|"
    r"eventually|no hurry|undecided|maybe later|not decided|haven'?t decided|"
    r"no (lo )?s[eé]|no estoy segur[oa]|sin prisa|ni idea|no hay prisa|cuando sea|alg[uú]n d[ií]a|"
    r"no lo (hemos|he) decidido|sin fecha|todav[ií]a no (lo )?sab|a[uú]n no (lo )?sab)\b",
    re.I,
)
_FIXED_TIMES = (
    (
        re.compile(
            r"\b(asap|as soon as possible|right now|now|immediately|urgent(ly)?|today|tomorrow|"
            r"lo antes posible|cuanto antes|ya mismo|ahora( mismo)?|inmediatamente|urgente|hoy|"
            r"de inmediato|enseguida)\b",
            re.I,
        ),
        7,
    ),
    (re.compile(r"\b(this week|esta semana)\b", re.I), 7),
    (re.compile(r"\b(next week|(la )?pr[oó]xima semana|(la )?semana que viene)\b", re.I), 14),
    (re.compile(r"\b(fortnight|quincena)\b", re.I), 14),
    (re.compile(r"\b(this month|este mes)\b", re.I), 30),
    (re.compile(r"\b(next month|(el )?pr[oó]ximo mes|(el )?mes que viene)\b", re.I), 30),
    (re.compile(r"\b(this quarter|este trimestre)\b", re.I), 90),
    (re.compile(r"\b(next quarter|(el )?pr[oó]ximo trimestre|(el )?trimestre que viene)\b", re.I), 180),
    (re.compile(r"\b(this year|este año)\b", re.I), 365),
    (re.compile(r"\b(next year|(el )?pr[oó]ximo año|(el )?año que viene)\b", re.I), 365),
)
_IN_PERIOD = re.compile(
    rf"\b(?P<count>\d+|{_NUMBER_WORD_PATTERN})\s+(?P<unit>days?|weeks?|fortnights?|months?|years?|quarters?|"
    r"d[ií]as|semanas?|quincenas?|mes(es)?|años?|trimestres?)\b",
    re.I,
)
_QUARTER = re.compile(
    r"\b(?:q|t)(?P<q>[1-4])\b|"
    r"\b(?P<word>first|second|third|fourth|primer|segundo|tercer|cuarto)\s+(quarter|trimestre)\b",
    re.I,
)
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "primer": 1, "segundo": 2, "tercer": 3,
                  "cuarto": 4}  # fmt: skip
_END_OF_YEAR = re.compile(r"\b(end of (the )?year|year[- ]end|fin(al(es)?)? de(l)? año)\b", re.I)


def _unit_days(unit: str) -> int:
    unit = unit.lower()
    for name, days in sorted(_UNIT_DAYS.items(), key=lambda item: -len(item[0])):
        if unit.startswith(name):
            return days
    if unit.startswith("mes"):
        return 30
    return 1


def _quarter_days(quarter: int, today: date) -> int:
    """Days until the start of the next such quarter; within that quarter, until its end."""
    current = (today.month - 1) // 3 + 1
    if quarter == current:
        end_month = quarter * 3
        end = date(today.year + (end_month // 12), end_month % 12 + 1, 1)
        return max((end - today).days, 1)
    year = today.year if quarter > current else today.year + 1
    return (date(year, (quarter - 1) * 3 + 1, 1) - today).days


def parse_timeline_days(text: str, today: date | None = None) -> int | None:
    """Days until the visitor needs it ("asap" → 7, "in two months" → 60, "Q3"); None when unknown."""
    today = today or date.today()
    if _UNKNOWN_TIME.search(text):
        return None
    match = _IN_PERIOD.search(text)
    if match:
        count_text = match["count"].lower()
        count = int(count_text) if count_text.isdigit() else _NUMBER_WORDS[count_text]
        return count * _unit_days(match["unit"])
    quarter = _QUARTER.search(text)
    if quarter:
        number = int(quarter["q"]) if quarter["q"] else _QUARTER_WORDS[quarter["word"].lower()]
        return _quarter_days(number, today)
    if _END_OF_YEAR.search(text):
        return max((date(today.year, 12, 31) - today).days, 1)
    for pattern, days in _FIXED_TIMES:
        if pattern.search(text):
            return days
    return _absolute_date_days(text, today)


def _absolute_date_days(text: str, today: date) -> int | None:
    """ "by March 15", "el 15 de marzo", "before 1 June": dateparser finds the date in the text."""
    if not re.search(r"\d|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|ene|abr|ago|dic)", text, re.I):
        return None
    from dateparser.search import search_dates  # type: ignore[import-untyped]  # slow import

    settings: Any = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": datetime(today.year, today.month, today.day),
        "REQUIRE_PARTS": ["month"],
    }
    found = search_dates(text, languages=["en", "es"], settings=settings)
    if not found:
        return None
    days = (found[0][1].date() - today).days
    return days if 0 < days <= 3 * 365 else None


def mentions_timeline(text: str) -> bool:
    """Whether a message clearly states when (used to pick timelines out of longer messages)."""
    return (
        any(pattern.search(text) for pattern, _ in _FIXED_TIMES)
        or bool(
            _IN_PERIOD.search(text)
            and re.search(r"\b(in|within|next|by|en|dentro de|para|antes de)\b", text, re.I)
        )
        or bool(_QUARTER.search(text))
        or bool(_END_OF_YEAR.search(text))
    )


# ------------------------------------------------------------------------------------------ authority

# Someone else has the last word: "I need to ask my boss", "the dentist signs off", "our CEO has the final
# say", "lo decide mi socia", "quien firma es el director". The visitor's own role ("I'm the office
# manager", "I'm the CTO") does not change that.
_INFLUENCER = re.compile(
    r"\b(ask|check with|run it by|talk to|convince) (my|our|the) (boss|manager|director|team|ceo|cto|cfo)\b|"
    r"\bnot the (decision[- ]maker|one who decides)\b|\bneeds? (approval|sign[- ]off)\b|\brecommend\b|"
    r"\binfluence\b|\b(don'?t|do not) have the (final|last) (say|word)\b|"
    r"\b(decides|signs off|signs it off|approves|has the (final|last) (say|word)|"
    r"makes the (final )?(call|decision))\b|"
    r"\b(preguntar(le)?|consultar(lo)?|hablar(lo)?|comentar(lo)?)\b.*\b(jefe|jefa|director|directora|gerente|"
    r"equipo|socio)\b|\brecomiendo\b|\brecomendar\b|\bmi (jefe|jefa|director|gerente) (decide|aprueba)\b|"
    r"\bno (soy|decido) (yo|quien decide)\b|\bno decido yo\b|"
    r"\b(quien|el que|la que) (decide|firma|aprueba)\b|"
    r"\b(lo )?(decide|firma|aprueba) (mi|el|la|nuestr[oa])\b",
    re.I,
)
# ... unless the visitor is that someone: "I'm the one who signs off", "soy quien decide".
_SELF_DECIDES = re.compile(
    r"\b(i'?m|i am) the (one|person) (who|that)\b|\bsoy (yo )?(quien|el que|la que)\b",
    re.I,
)
_DECISION_MAKER = re.compile(
    r"\b(ceo|cto|cfo|coo|cio|cmo|founder|co-?founder|owner|president|vp|vice president|head of|director|"
    r"partner|decision[- ]maker|i decide|i make the (decision|call)|i sign|my (own )?call|i'?m the boss|"
    r"managing director|general manager|chief|i own|i run|i'?m in charge|it'?s my (company|business)|"
    r"my (own )?(company|business)|budget holder|"
    r"fundador[a]?|cofundador[a]?|due[ñn]o|due[ñn]a|propietari[oa]|president[ea]|directora?|gerente|socio|"
    r"socia|yo decido|decido yo|la decisi[oó]n es m[ií]a|firmo yo|jef[ea] de|responsable de|"
    r"mi (propia )?empresa|mi negocio)\b",
    re.I,
)
_RESEARCHER = re.compile(
    r"\b(student|research(ing|er)?|intern|just looking|curious|for a project|estudiante|investigando|"
    r"investigaci[oó]n|becari[oa]|curiosidad|para un proyecto|informando)\b",
    re.I,
)


def parse_authority(text: str) -> Authority:
    """Who the visitor is in the buying decision, from how they describe their role."""
    if _SELF_DECIDES.search(text):
        return Authority.DECISION_MAKER
    if _INFLUENCER.search(text):
        return Authority.INFLUENCER
    if _DECISION_MAKER.search(text):
        return Authority.DECISION_MAKER
    if _RESEARCHER.search(text):
        return Authority.RESEARCHER
    return Authority.UNKNOWN


# ------------------------------------------------------------------------------------- e-mail, phone

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


def mentions_email(text: str) -> bool:
    return _EMAIL_CANDIDATE.search(text) is not None


DEFAULT_PHONE_REGIONS = {"en": "US", "es": "ES"}


def parse_phone(text: str, region: str | None = "US") -> str | None:
    """The first valid phone number in ``text`` in E.164 ("+34 612 34 56 78" → "+34612345678").

    Numbers without a country code are read as numbers of ``region`` (ISO 3166 code).
    """
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


# --------------------------------------------------------------------------- name, company, size

_NAME_PREFIX = re.compile(
    r"^\s*(hi|hello|hey|hola)?[,! ]*(my name is|my name's|name is|i am|i'm|im|it's|its|this is|call me|"
    r"me llamo|mi nombre es|soy|ll[aá]mame)\s+",
    re.I,
)
_COMPANY_PREFIX = re.compile(
    r"^\s*(i work (at|for)|we are|we're|it's|its|the company is|company is|my company is|at|for|from|"
    r"trabajo (en|para)|somos|es|la empresa es|mi empresa es|en|de|desde)\s+",
    re.I,
)


# "I don't have an e-mail", "we haven't got a phone", "no tengo correo": nothing to give, so asking again
# would only annoy.
_HAS_NONE = re.compile(
    r"\b(i|we) (don'?t|do not|haven'?t|have not|never) (have|had|got|use)\b|\b(i|we) have no\b|"
    r"\b(i|we) (do not|don'?t) (own|use) (one|any)\b|\bno (tengo|tenemos|uso|usamos)\b|"
    r"^\s*(no|sin|without|nada de) (e-?mail|mail|correo|phone|tel[eé]fono|m[oó]vil|company|empresa)\b",
    re.I,
)


def says_has_none(text: str) -> bool:
    """Whether the visitor says they have no such thing ("I don't have an e-mail", "no tengo móvil")."""
    return bool(_HAS_NONE.search(text))


def is_question(text: str) -> bool:
    """Whether a message asks something ("what's the weather?", "¿me ayudas…"): a question is never a name."""
    text = text.strip()
    return text.endswith("?") or text.startswith("¿")


def _tidy(text: str, prefix: re.Pattern[str]) -> str | None:
    value = prefix.sub("", text.strip()).strip(" .!,")
    return value[:200] or None


def parse_person_name(text: str) -> str | None:
    """A person's name with "my name is …" / "me llamo …" and similar lead-ins removed; None when what is
    left cannot be a name (an e-mail address, a number, a web address)."""
    name = _tidy(text, _NAME_PREFIX)
    if name is None or re.search(r"[@\d/\\]|https?:|www\.", name):
        return None
    return name


def parse_company(text: str) -> str | None:
    """A company name with "I work at …" / "trabajo en …" and similar lead-ins removed."""
    return _tidy(text, _COMPANY_PREFIX)


_CAPITALISED = r"[A-Z0-9][\w&'.-]*(?:\s+(?:[A-Z0-9][\w&'.-]*|&))*"
_COMPANY_MENTION = re.compile(
    rf"\b(?:at|for|from|with|en|de|para|desde)\s+(?P<company>{_CAPITALISED})",
)
_NAME_MENTION = re.compile(
    r"\b(?:my name is|my name's|i'm called|call me|me llamo|mi nombre es|ll[aá]mame)\s+"
    r"(?P<name>[A-ZÁÉÍÓÚÑ][\w'-]*(?:\s+[A-ZÁÉÍÓÚÑ][\w'-]*)?)",
    re.I,
)
_NOT_COMPANIES = {"q1", "q2", "q3", "q4", "i", "the", "a", "el", "la", "los", "las", "un", "una"}


def find_company(text: str) -> str | None:
    """A company named inside a longer message ("I'm the CTO at Acme, …" → "Acme")."""
    for match in _COMPANY_MENTION.finditer(text):
        company = match["company"].strip(" .,")
        if company.lower() not in _NOT_COMPANIES and not company[0].isdigit():
            return company
    return None


def find_person_name(text: str) -> str | None:
    """A name introduced inside a longer message ("…, my name is Ana Ruiz" → "Ana Ruiz")."""
    match = _NAME_MENTION.search(text)
    return match["name"].strip() if match else None


_COMPANY_SIZE = re.compile(
    rf"\b(?P<count>\d[\d,.]*|{_NUMBER_WORD_PATTERN})\s*(?P<k>k)?\s+(?:\w+\s+)?"
    r"(people|employees|staff|persons|workers|seats|personas|empleados|trabajadores|usuarios)\b",
    re.I,
)


def parse_company_size(text: str) -> int | None:
    """Head count from "we're 50 people" / "somos 20 empleados"; None when not stated."""
    match = _COMPANY_SIZE.search(text)
    if match is None:
        return None
    value = _number(match["count"].rstrip(".,"))
    if value is None:
        return None
    return int(value * (1000 if match["k"] else 1))


# ----------------------------------------------------------------------------------------- language


def language_from_locale(locale: Any, supported: Iterable[str]) -> str | None:
    """'es-ES', 'es_MX', 'EN' → the supported language code, or None."""
    if not isinstance(locale, str) or not locale.strip():
        return None
    code = re.split(r"[-_]", locale.strip().lower())[0]
    return code if code in set(supported) else None


@lru_cache(maxsize=8)
def _detector(languages: tuple[str, ...]) -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    known = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in languages]
    return LanguageDetectorBuilder.from_languages(*known).with_preloaded_language_models().build()


def detect_language(text: str, supported: Iterable[str], min_confidence: float = 0.6) -> str | None:
    """The supported language ``text`` is written in, or None when too short or unclear to tell."""
    languages = tuple(sorted(set(supported)))
    if len(languages) < 2 or not re.search(r"[^\W\d_]{2,}", text):
        return languages[0] if len(languages) == 1 else None
    values = _detector(languages).compute_language_confidence_values(text)
    if not values or values[0].value < min_confidence:
        return None
    code: str = values[0].language.iso_code_639_1.name.lower()
    return code
