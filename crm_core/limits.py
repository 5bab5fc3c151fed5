"""The bounds of every value the outside world hands the CRM: one place for the maxima.

The API's and the console's models use the annotated types below (a refusal names the field); crm_core's
functions that take text from several adapters check it with ``check_text`` (an ``InvalidInput`` naming
the field). Ids, offsets and pages are refused beyond PostgreSQL's INTEGER (2^31 - 1) before they reach
SQL; dates stay in years the date arithmetic of periods and clocks can hold.
"""

import re
from datetime import date, datetime
from typing import Annotated

from annotated_types import Interval, MaxLen, MinLen
from pydantic import AfterValidator, Field, JsonValue, WithJsonSchema

from crm_core.errors import InvalidInput

MAX_INT = 2**31 - 1  # ids and counts are INTEGER columns: 32 bits in PostgreSQL (SQLite holds 64)
MAX_BIG_INT = 2**63 - 1  # BIGINT columns (a rep's Telegram chat id)
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)

NAME_LENGTH = 200  # names, company, titles, "by"
LINE_LENGTH = 1_000  # a reason, a search, a one-line answer
TEXT_LENGTH = 10_000  # notes, the need, any free text of several lines
CODE_LENGTH = 40  # territories, sources, lost reasons
LIST_LENGTH = 100  # a rep's territories
LANGUAGES_LENGTH = 20  # a rep's languages
BODY_BYTES = 1_000_000  # any request body, refused before it is read further (bot/web/body_limit.py)

# C0 and C1 controls but tab, line feed and carriage return (allowed in multi-line text only), and DEL
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\t\n\r]")


def text_problem(value: str, max_length: int, *, multiline: bool = False) -> str | None:
    """What is wrong with ``value`` as text of at most ``max_length`` characters, or None."""
    if len(value) > max_length:
        return f"is {len(value):,} characters long; at most {max_length:,} are allowed"
    if _CONTROL.search(value) or (not multiline and _LINE_BREAK.search(value)):
        return "contains a control character (such as a NUL byte)"
    return None


def check_text(value: str, field: str, max_length: int, *, multiline: bool = False) -> str:
    """``value`` if it is acceptable text, else an ``InvalidInput`` naming ``field``."""
    problem = text_problem(value, max_length, multiline=multiline)
    if problem:
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} {problem}.", field)
    return value


def _no_controls(multiline: bool) -> AfterValidator:
    def check(value: str) -> str:
        problem = text_problem(value, len(value), multiline=multiline)
        if problem:
            raise ValueError(f"the text {problem}")
        return value

    return AfterValidator(check)


def _in_range(moment: datetime) -> datetime:
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise ValueError(f"give a time between {FIRST_DAY.year} and {LAST_DAY.year}")
    return moment


# The same rule in the OpenAPI schema, for clients (and schemathesis); the validators above word the refusal.
ONE_LINE: dict[str, JsonValue] = {"pattern": "^[^\u0000-\u001f\u007f-\u009f]*$"}
LINES: dict[str, JsonValue] = {"pattern": "^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"}

Name = Annotated[str, Field(max_length=NAME_LENGTH, json_schema_extra=ONE_LINE), _no_controls(False)]
Line = Annotated[str, Field(max_length=LINE_LENGTH, json_schema_extra=ONE_LINE), _no_controls(False)]
Code = Annotated[str, Field(max_length=CODE_LENGTH, json_schema_extra=ONE_LINE), _no_controls(False)]
Text = Annotated[str, Field(max_length=TEXT_LENGTH, json_schema_extra=LINES), _no_controls(True)]
Search = Annotated[str, Field(max_length=200, json_schema_extra=ONE_LINE), _no_controls(False)]
# Rasa's conversation id: any text on one line
SenderId = Annotated[
    str,
    MinLen(1),
    MaxLen(255),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255, **ONE_LINE}),
    _no_controls(False),
]

Id = Annotated[int, Interval(ge=1, le=MAX_INT)]  # a row's id, in a path, a query or a body
Count = Annotated[int, Interval(ge=0, le=MAX_INT)]  # an offset, a capacity
Page = Annotated[int, Interval(ge=1, le=MAX_INT // 1_000)]  # a page number (times its size stays in range)
ChatId = Annotated[int, Interval(ge=-MAX_BIG_INT, le=MAX_BIG_INT)]  # Telegram's chat ids may be negative
# years 1900-2999, as the schema says it (JSON Schema's date formats have no minimum or maximum)
YEARS = "^(?:19|2[0-9])[0-9]{2}-"
Day = Annotated[
    date,
    Interval(ge=FIRST_DAY, le=LAST_DAY),
    WithJsonSchema({"type": "string", "format": "date", "pattern": YEARS}),
]
Moment = Annotated[
    datetime,
    AfterValidator(_in_range),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": YEARS}),
]


def as_number(text: str, low: int = 0, high: int = MAX_INT) -> int | None:
    """``text`` as a whole number in [low, high] when it is only ASCII digits, else None (``isdigit`` also
    takes "²" and other scripts' digits, and SQL cannot hold more than 64 bits)."""
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 19:
        return None
    number = int(cleaned)
    return number if low <= number <= high else None
