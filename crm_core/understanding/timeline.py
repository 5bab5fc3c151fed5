"""When the visitor needs it: free text → days from today, today being the visitor's (their time zone).

Our rules say what sales talk means ("end of April" → 30 April, "early June" → 5 June, "Q3" → 1 July, "asap"
→ a week, "after the summer" → 1 September); Duckling reads the rest of the calendar (weekdays, holidays,
"by June 1st", "el 15 de marzo", "next Friday"). A month or date already past this year means next year's.
No cap: a year away is a (cold) timeframe too. Unknown ("no sé", "no rush") is None; a hedged timeframe
("sin prisa, igual el año que viene") still counts as that timeframe.
"""

import calendar
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_core.understanding import _duckling
from crm_core.understanding.numbers import COUNT, to_count

ASAP_DAYS = 7  # "asap", "ya mismo": needed now, within the week
# "the beginning of June" is its first days, not the 1st itself: a month's start said a month ahead is not
# "needed now" (read as the 1st, "early January" on 2 December was the policy's last hot day).
BEGINNING_OF_MONTH_DAY = 5

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
}  # fmt: skip
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MONTH = rf"(?:{_MONTH_NAMES})\b"
_UNIT_DAYS = {
    "day": 1, "week": 7, "fortnight": 14, "month": 30, "quarter": 91, "year": 365,
    "día": 1, "dia": 1, "diíta": 1, "diita": 1, "semana": 7, "semanita": 7, "quincena": 15, "mes": 30,
    "trimestre": 91, "año": 365, "ano": 365, "añito": 365,
}  # fmt: skip

# No purchase in view: nothing else in the message changes that.
_NO_PLAN = re.compile(
    r"\b(no (purchase|plans?|budget) (is )?planned|not planning to (buy|purchase)|"
    r"no plans? to (buy|purchase)|"
    r"not buying|no (tenemos|tengo|hay) (planes|previsto|prevista)|no est[aá] previst[oa]|"
    r"no vamos a comprar)\b",
    re.I,
)
_ASAP_WORDS = (
    r"asap|as soon as (possible|(you|we) can)|right (now|away)|immediately|urgent(ly)?|tomorrow|yesterday|"
    r"lo antes posible|cuanto antes|ya mismo|ahora mismo|inmediatamente|urgente|de inmediato|enseguida|"
    r"para ayer|lo m[aá]s pronto posible|en cuanto (podamos|pod[aá]is|puedan|sea posible)"
)
# "from now" / "a partir de ahora" count from today: "two months from now" is not now.
_ASAP = re.compile(
    rf"\b({_ASAP_WORDS}|today|hoy|(?<!partir de )(?<!desde )ahora)\b|(?<!not )(?<!from )\bnow\b", re.I
)
# In a longer message "now" and "today" say little ("we're now 40 people", "today we use Excel").
_ASAP_IN_PASSING = re.compile(rf"\b({_ASAP_WORDS})\b", re.I)
# "end of April", "before April is out", "a finales de abril", "antes de que termine abril"
_END_OF_MONTH = re.compile(
    rf"\b(?:(?:the )?(?:end|close) of (?:the month of )?|late |a (?:finales|fines|fin) de |finales de |"
    rf"fin(?:al)?(?:es)? de |antes de que (?:termine|acabe|se acabe|finalice) ){_MONTH}|"
    rf"\bbefore {_MONTH} (?:is|gets) (?:out|over|done)\b",
    re.I,
)
_BEGINNING_OF_MONTH = re.compile(
    rf"\b(?:(?:the )?(?:beginning|start) of |early |first days of |"
    rf"(?:a )?(?:principios|comienzos|inicios) de |primeros d[ií]as de ){_MONTH}",
    re.I,
)
_MIDDLE_OF_MONTH = re.compile(
    rf"\b(?:(?:the )?middle of |mid[- ]?|(?:a )?mediados de |mitad de ){_MONTH}", re.I
)
_WEEK_OF_MONTH = re.compile(
    rf"\b(?P<nth>first|second|third|fourth|last|primera|segunda|tercera|cuarta|[uú]ltima) (?:week|semana) "
    rf"(?:of|de) {_MONTH}",
    re.I,
)
_NTH_WEEK_DAY = {"first": 1, "primera": 1, "second": 8, "segunda": 8, "third": 15, "tercera": 15,
                 "fourth": 22, "cuarta": 22}  # fmt: skip
# The current month's end: "end of the month", "antes de final de mes", "this month", "este mes".
_THIS_MONTH = re.compile(
    r"\b((the )?end of (the|this) month|before the month is (out|over)|this month|this very month|"
    r"(a |para |antes de )?(final(es)?|fin(es)?) de(l)? mes|este (mismo )?mes|"
    r"antes de que (termine|acabe) el mes)\b",
    re.I,
)
_END_OF_NEXT_MONTH = re.compile(
    r"\b((the )?end of next month|(a |para |antes de )?(final(es)?|fin(es)?) del (mes (que viene|siguiente|"
    r"entrante|que entra)|pr[oó]ximo mes))\b",
    re.I,
)
_THIS_WEEK = re.compile(
    r"\b(this (very )?week|(the )?end of (the|this) week|before the weekend|esta (misma )?semana|"
    r"(a |para )?final(es)? de (la|esta) semana|antes del fin de semana)\b",
    re.I,
)
# "not this year, probably next", "este mes no": the next one
_NOT_THIS = re.compile(
    r"\bnot (this|este) (?P<en>week|month|year)\b|\b(?:esta|este) (?P<es>semana|mes|año) no\b|"
    r"\bno (?:esta|este) (?P<es2>semana|mes|año)\b",
    re.I,
)
_NEXT_OF = {"week": 14, "semana": 14, "month": 30, "mes": 30, "year": 365, "año": 365}
_NEXT_WEEK = re.compile(r"\b(next week|(la )?pr[oó]xima semana|(la )?semana (que viene|entrante))\b", re.I)
_NEXT_MONTH = re.compile(
    r"\b(next month|(el )?pr[oó]ximo mes|(el )?mes (que viene|que entra|entrante|siguiente))\b", re.I
)
_QUARTER = re.compile(
    r"\b(?:q|t)(?P<q>[1-4])\b|"
    r"\b(?P<word>first|second|third|fourth|primer|segundo|tercer|cuarto)\s+(?:quarter|trimestre)\b",
    re.I,
)
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "primer": 1, "segundo": 2, "tercer": 3,
                  "cuarto": 4}  # fmt: skip
_NEXT_YEAR_WORDS = (
    r"\b(next year|(el |del )?pr[oó]ximo año|(el |del )?año que viene|(el |del )?año entrante)\b"
)
_NEXT_YEAR = re.compile(_NEXT_YEAR_WORDS, re.I)
_THIS_QUARTER = re.compile(r"\b(this quarter|este trimestre)\b", re.I)
_NEXT_QUARTER = re.compile(
    r"\b(next quarter|(el )?pr[oó]ximo trimestre|(el )?trimestre (que viene|siguiente|entrante))\b", re.I
)
_AFTER_SUMMER = re.compile(
    r"\b(after (the )?summer( holidays)?|(despu[eé]s|pasado|tras|a la vuelta) (de(l)? )?(el )?verano)\b",
    re.I,
)
_BEFORE_SUMMER = re.compile(r"\b(before (the )?summer|antes del verano)\b", re.I)
_NEW_YEAR = re.compile(
    r"\b(after (the )?new year'?s?|in the new year|(despu[eé]s|pasado|tras) (de(l)? )?(el )?año nuevo|"
    r"a la vuelta de (las )?navidades|en el año nuevo)\b",
    re.I,
)
# Part of next year: "early next year", "a mediados del año que viene", "finales del próximo año"
_PART_OF_NEXT_YEAR = re.compile(
    rf"\b(?P<part>early|beginning of|start of|the start of|mid|middle of|late|end of|the end of|"
    rf"(?:a )?(?:principios|comienzos|inicios|mediados|finales|fines)(?: de(?:l)?)?)[- ]{_NEXT_YEAR_WORDS}",
    re.I,
)
# Halves of the year: "H2", "the second half of the year", "el segundo semestre"
_HALF_YEAR = re.compile(
    r"\bH(?P<h>[12])\b|\b(?P<word>first|second|primer|segundo) (half of (the |this )?year|semestre)\b", re.I
)
_AFTER_EPIPHANY = re.compile(r"\b(despu[eé]s de|pasado|tras|a la vuelta de) (los )?reyes\b", re.I)
_CHRISTMAS = re.compile(r"\b(christmas|xmas|navidad(es)?)\b", re.I)
_END_OF_YEAR = re.compile(
    r"\b(end of (the )?year|year[- ]end|this year|fin(al(es)?)? de(l)? año|este año)\b", re.I
)
_IN_PERIOD = re.compile(
    # "in six weeks"; a range counts from its earlier end ("three to four months", "entre 3 y 4 meses")
    rf"(?:(?P<low>{COUNT})\s*(?:-|–|to|or|and|a|o|y)\s*)?(?P<count>{COUNT})\s+"
    r"(?P<unit>days?|weeks?|fortnights?|months?|years?|quarters?|"
    # and the diminutives of speech: "dos semanitas", "un mesecito", "unos diítas"
    r"d[ií]as|d[ií]{1,2}tas|semanas?|semanitas?|quincenas?|mes(?:es)?|mesecitos?|años?|añitos?|trimestres?)\b"
    r"(?P<half>\s+(?:and a half|y medio|y media))?",
    re.I,
)
# Not a timeframe: a budget's period ("€18,000 a year", "$30k/yr", "500 al mes") and a contract's length
# ("a two year contract", "un contrato de dos años" keeps its "de": only the English compound is cut).
_NOT_TIMEFRAMES = re.compile(
    r"(?:[$€£\d]k?|\b(?:mil|euros?|dollars?|d[oó]lares|pounds?|libras|pesos|usd|eur|gbp|bucks|budget|"
    r"presupuesto))\s*(?:a|per|each|every|/|al|por|cada)\s*(?:year|yr|month|mo|week|quarter|año|mes|semana|"
    r"trimestre)\b|"
    r"\b\w+\s+(?:day|week|month|year)\s+(?:contract|deal|plan|subscription|licen[cs]e|warranty|term|"
    r"commitment|trial|agreement|period)\b",
    re.I,
)
_HALF_A = re.compile(r"\b(half a year|medio año|six months)\b", re.I)
_PERIOD_LEAD_IN = re.compile(
    r"\b(in|within|next|by|en|dentro de|para|antes de|renews?|vence|expires?|de aqu[ií] a)\b", re.I
)

# Duckling is asked only when a message has something of a calendar in it (most have none: ~1 ms saved).
_CALENDAR_HINT = re.compile(
    rf"\d|\b({_MONTH_NAMES}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|"
    r"mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo|weekend|fin de semana|tomorrow|ma[ñn]ana|tonight|"
    r"spring|summer|autumn|fall|winter|primavera|verano|oto[ñn]o|invierno|easter|semana santa|pascua|"
    r"black friday|cyber monday|thanksgiving|halloween|new year|a[ñn]o nuevo|reyes)\b",
    re.I,
)
_DATE_LEAD_IN_WORDS = (
    r"by|before|until|till|on|for|from|starting|next|this|in|antes de|antes del|para|hasta|a partir de|"
    r"a partir del|desde|en|el pr[oó]ximo|la pr[oó]xima|el (?:lunes|martes|mi[eé]rcoles|jueves|viernes)"
)
_DATE_LEAD_IN = re.compile(rf"(?:{_DATE_LEAD_IN_WORDS})\b", re.I)  # "by June 1st", "el lunes"
_DATE_LEAD_IN_BEFORE = re.compile(rf"\b(?:{_DATE_LEAD_IN_WORDS})\s+(?:(?:el|la|the)\s+)?$", re.I)


def today_in(tz_name: str | None) -> date:
    """Today where the visitor is (an IANA zone such as "America/Mexico_City"); the server's when unknown."""
    if tz_name:
        try:
            return datetime.now(ZoneInfo(tz_name)).date()
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return date.today()


def _next_occurrence(month: int, day: int | None, today: date) -> date:
    """That day of the month (None: its last day) this year, or next year when already past."""
    for year in (today.year, today.year + 1):
        last = calendar.monthrange(year, month)[1]
        when = date(year, month, min(day or last, last))
        if when >= today:
            return when
    raise AssertionError("unreachable: next year's date is never past")


def _month_end(today: date, months_ahead: int = 0) -> date:
    month_index = today.month - 1 + months_ahead
    year, month = today.year + month_index // 12, month_index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def _quarter_start(quarter: int, year: int) -> date:
    return date(year, (quarter - 1) * 3 + 1, 1)


def _quarter_date(quarter: int, today: date, next_year: bool) -> date:
    """Named quarter: its start; the current one: the day after it ends; a past one (or "… next year"):
    next year's start."""
    current = (today.month - 1) // 3 + 1
    if next_year:
        return _quarter_start(quarter, today.year + 1)
    if quarter == current:  # until the day after it ends
        return _month_end(today, quarter * 3 - today.month) + timedelta(days=1)
    return _quarter_start(quarter, today.year if quarter > current else today.year + 1)


def _month_of(match: re.Match[str]) -> int:
    """The month named in a matched phrase."""
    return next(_MONTHS[word] for word in re.findall(r"[^\W\d_]+", match.group().lower()) if word in _MONTHS)


def _explicit_date(text: str, today: date) -> date | None:
    """The date our own rules read in ``text``, most specific first; None when none applies."""
    if match := _END_OF_MONTH.search(text):
        return _next_occurrence(_month_of(match), None, today)
    if match := _BEGINNING_OF_MONTH.search(text):  # its first days: a rep writes "early June" as ~5 June
        return _next_occurrence(_month_of(match), BEGINNING_OF_MONTH_DAY, today)
    if match := _MIDDLE_OF_MONTH.search(text):
        return _next_occurrence(_month_of(match), 15, today)
    if match := _WEEK_OF_MONTH.search(text):
        nth = match["nth"].lower()
        if nth in _NTH_WEEK_DAY:
            return _next_occurrence(_month_of(match), _NTH_WEEK_DAY[nth], today)
        end = _next_occurrence(_month_of(match), None, today)
        return end - timedelta(days=6)
    if match := _QUARTER.search(text):
        quarter = int(match["q"]) if match["q"] else _QUARTER_WORDS[match["word"].lower()]
        next_year = bool(_NEXT_YEAR.search(text) or re.search(rf"\b{today.year + 1}\b", text))
        return _quarter_date(quarter, today, next_year)
    if _THIS_QUARTER.search(text):
        current = (today.month - 1) // 3 + 1
        return _quarter_date(current, today, next_year=False)
    if _NEXT_QUARTER.search(text):
        current = (today.month - 1) // 3 + 1
        return _quarter_start(current % 4 + 1, today.year + (current == 4))
    if match := _PART_OF_NEXT_YEAR.search(text):
        part, year = match["part"].lower(), today.year + 1
        if part.startswith(("mid", "middle", "a mediados", "mediados")):
            return date(year, 7, 1)
        if part.startswith(("late", "end", "the end", "a finales", "finales", "a fines", "fines")):
            return date(year, 12, 31)
        return date(year, 1, 1)
    if match := _HALF_YEAR.search(text):
        second = match["h"] == "2" or (match["word"] or "").lower() in ("second", "segundo")
        return date(today.year, 7, 1) if second or today.month <= 6 else date(today.year + 1, 1, 1)
    if _AFTER_SUMMER.search(text):
        return _next_occurrence(9, 1, today)  # the northern summer: our markets (es, en) mostly are
    if _BEFORE_SUMMER.search(text):
        return _next_occurrence(6, 21, today)
    if _NEW_YEAR.search(text):
        return date(today.year + 1, 1, 1)
    if _AFTER_EPIPHANY.search(text):
        return _next_occurrence(1, 7, today)
    if _CHRISTMAS.search(text):
        return _next_occurrence(12, 25, today)
    if _END_OF_YEAR.search(text):
        return date(today.year, 12, 31)
    return None


def _explicit_days(text: str, today: date) -> int | None:
    if _ASAP.search(text):
        return ASAP_DAYS
    if match := _NOT_THIS.search(text):
        return _NEXT_OF[(match["en"] or match["es"] or match["es2"]).lower()]
    if (when := _explicit_date(text, today)) is not None:
        return max((when - today).days, 1)
    if match := _IN_PERIOD.search(text):
        unit = match["unit"].lower()
        days = next(
            d for name, d in sorted(_UNIT_DAYS.items(), key=lambda i: -len(i[0])) if unit.startswith(name)
        )
        count = to_count(match["low"] or match["count"])
        return count * days + (days // 2 if match["half"] else 0)
    if _HALF_A.search(text):
        return 182
    if _THIS_WEEK.search(text):
        return ASAP_DAYS
    if _NEXT_WEEK.search(text) or re.search(r"\b(fortnight|quincena)\b", text, re.I):
        return 14
    if _END_OF_NEXT_MONTH.search(text):
        return (_month_end(today, 1) - today).days
    if _THIS_MONTH.search(text):
        return max((_month_end(today) - today).days, 1)
    if _NEXT_MONTH.search(text):
        return 30
    if _NEXT_YEAR.search(text):
        return 365
    return None


def _duckling_dates(
    text: str, today: date, language: str | None, tz_name: str | None
) -> Iterator[tuple[int, int, int]]:
    """(days until, start, end) of every future date Duckling reads; an interval ("by June 1st"): its end."""
    text = re.sub(r"\b24\s?[/x]\s?7\b", "always", text)  # "24/7 support" is no 24 July
    if not _CALENDAR_HINT.search(text):
        return
    for lang in [language] if language in ("en", "es") else ["en", "es"]:
        for entity in _duckling.times(text, today, lang or "en", tz_name):
            value = entity["value"]
            if value["type"] == "value":
                if value.get("grain") not in ("day", "week", "month", "quarter", "year"):
                    continue  # "about 20" read as 8 pm: not a timeframe
                when = value["value"]
            else:
                start, end = value.get("from"), value.get("to")
                starts_now = start is None or start["value"][:10] == today.isoformat()
                when = (end if starts_now and end else start or end)["value"]
            days = (date.fromisoformat(when[:10]) - today).days
            if days > 0:
                yield days, entity["start"], entity["end"]


def _duckling_days(text: str, today: date, language: str | None, tz_name: str | None) -> int | None:
    return next((days for days, _, _ in _duckling_dates(text, today, language, tz_name)), None)


def parse_timeline_days(
    text: str, today: date | None = None, *, tz_name: str | None = None, language: str | None = None
) -> int | None:
    """Days until the visitor needs it ("asap" → 7, "in six weeks" → 42, "a finales de abril"); None: unknown.

    ``today`` defaults to today in ``tz_name`` (the visitor's IANA time zone); ``language`` ("en", "es")
    picks Duckling's locale, both are tried when not given.
    """
    today = today or today_in(tz_name)
    if _NO_PLAN.search(text):
        return None
    text = _NOT_TIMEFRAMES.sub(" ", text)
    days = _explicit_days(text, today)
    if days is None:
        days = _duckling_days(text, today, language, tz_name)
    return days


def mentions_timeline(text: str, today: date | None = None, *, tz_name: str | None = None) -> bool:
    """Whether a message clearly states when (used to pick timelines out of longer messages)."""
    today = today or today_in(tz_name)
    text = _NOT_TIMEFRAMES.sub(" ", text)
    if _ASAP_IN_PASSING.search(text) or _explicit_date(text, today) is not None:
        return True
    if _IN_PERIOD.search(text):
        return bool(_PERIOD_LEAD_IN.search(text))
    if any(
        pattern.search(text) for pattern in (_THIS_WEEK, _NEXT_WEEK, _THIS_MONTH, _NEXT_MONTH, _NEXT_YEAR)
    ):
        return True
    # a date Duckling reads, said as a deadline ("by Monday", "para el 5 de mayo"): not "May Chen, from Acme"
    return any(
        _DATE_LEAD_IN.match(text, start) or _DATE_LEAD_IN_BEFORE.search(text[:start])
        for _, start, _ in _duckling_dates(text, today, None, tz_name)
    )
