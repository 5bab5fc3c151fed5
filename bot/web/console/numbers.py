"""Numbers as the viewer writes and reads them: their browser's locale (Accept-Language), through babel.

"12.000" typed in a Spanish console is twelve thousand, in an English one twelve; a number that does not
read cleanly in the viewer's locale is refused with an example, never guessed at.
"""

from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from fastapi import Request

from crm_core.errors import InvalidInput

DEFAULT_LOCALE = "en"


def viewer_locale(request: Request) -> str:
    """The first locale of the browser's Accept-Language that babel knows (``en`` without one)."""
    ranked = []
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, weight = part.strip().partition(";q=")
        try:
            ranked.append((-float(weight or 1), position, tag.strip()))
        except ValueError:
            continue
    for _weight, _position, tag in sorted(ranked):
        if not tag or tag == "*":
            continue
        try:
            return str(Locale.parse(tag, sep="-"))
        except (ValueError, UnknownLocaleError):
            continue
    return DEFAULT_LOCALE


def parse_amount(text: str, locale: str, field: str = "value") -> Decimal:
    """An amount as typed in ``locale`` (grouping and decimal signs of that locale)."""
    typed = text.strip()
    example = format_decimal(Decimal("12000.50"), format="#,##0.00", locale=locale)
    if not typed:
        raise InvalidInput(f"Enter an amount, like {example}.", field)
    try:
        return parse_decimal(typed, locale=locale, strict=True)
    except NumberFormatError as error:
        guesses = " or ".join(f"'{guess}'" for guess in error.suggestions or [])
        hint = f" Did you mean {guesses}?" if guesses else ""
        raise InvalidInput(
            f"'{typed}' is not an amount as written here ({Locale.parse(locale).display_name}): "
            f"write it like {example}.{hint}",
            field,
        ) from None


def format_amount(value: Decimal, locale: str) -> str:
    return format_decimal(value, format="#,##0.00", locale=locale)
