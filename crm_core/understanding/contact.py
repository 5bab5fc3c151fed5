"""How to reach the visitor: e-mail (``email-validator``) and phone (``phonenumbers``, E.164), also when
given as a correction ("oops, typo in my address: …"), and saying there is none ("no tengo correo")."""

import re
from collections.abc import Sequence
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_EMAIL_CANDIDATE = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


def _valid_email(candidate: str) -> str | None:
    try:
        return validate_email(candidate.rstrip("."), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def parse_email(text: str) -> str | None:
    """The normalised e-mail address in ``text`` (its first address), or None when that is not a valid one."""
    match = _EMAIL_CANDIDATE.search(text)
    return _valid_email(match.group()) if match else None


def find_email(text: str) -> str | None:
    """The e-mail address a message gives, wherever it is: the last valid one, so that a correction
    ("not ana@acme.con, ana@acme.com") gives the new address; None when none is valid."""
    valid = [email for m in _EMAIL_CANDIDATE.finditer(text) if (email := _valid_email(m.group()))]
    return valid[-1] if valid else None


def mentions_email(text: str) -> bool:
    return _EMAIL_CANDIDATE.search(text) is not None


# Where a number without a country code is tried, in order, by the visitor's language: "07700 900123" is a
# UK mobile, "55 1234 5678" a Mexico City line. A browser locale's country ("en-GB", "es-MX") is tried first.
DEFAULT_PHONE_REGIONS = {
    "en": ("US", "GB", "CA", "IE", "AU", "NZ"),
    "es": ("ES", "MX", "AR", "CO", "CL", "PE", "US"),
}
Regions = str | Sequence[str] | None
MIN_NATIONAL_DIGITS = 8


def phone_regions(language: str, locale: str | None = None) -> tuple[str, ...]:
    """The regions to read a local number in, for a visitor of ``language`` and browser ``locale``."""
    regions = DEFAULT_PHONE_REGIONS.get(language, ("US",))
    parts = re.split(r"[-_]", locale or "")
    country = parts[1].upper() if len(parts) > 1 and len(parts[1]) == 2 else None
    return (country, *(r for r in regions if r != country)) if country else tuple(regions)


def _phones(text: str, regions: Regions, leniency: Any = phonenumbers.Leniency.VALID) -> list[str]:
    """The numbers in ``text``, read in the first of ``regions`` where any is found."""
    for region in [regions] if regions is None or isinstance(regions, str) else regions:
        matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency)
        found = [
            phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            for m in matcher
            if len(str(m.number.national_number)) >= MIN_NATIONAL_DIGITS  # "2026" is a year, not a line
        ]
        if found:
            return found
    return []


def parse_phone(text: str, region: Regions = "US", *, possible: bool = False) -> str | None:
    """The first valid phone number in ``text`` in E.164 ("+34 612 34 56 78" → "+34612345678").

    Numbers without a country code are read as numbers of ``region`` (ISO 3166 code), or of the first of
    several regions where they are valid. ``possible``: when no number is valid, one of a possible length
    will do — the answer to "what's your phone number?" is one even when its range is unassigned or
    reserved for examples ("07700 900123").
    """
    phones = _phones(text, region)
    if not phones and possible:
        phones = _phones(text, region, phonenumbers.Leniency.POSSIBLE)
    return phones[0] if phones else None


def find_phone(text: str, region: Regions = "US") -> str | None:
    """The last valid phone number in ``text`` (a correction's new number comes after the old one)."""
    phones = _phones(text, region)
    return phones[-1] if phones else None


# "I don't have an e-mail", "we haven't got a phone", "no tengo correo": nothing to give, so asking again
# would only annoy.
_HAS_NONE = re.compile(
    r"\b(i|we) (don'?t|do not|haven'?t|have not|never) (have|had|got|use)\b|\b(i|we) have no\b|"
    r"\b(i|we) (do not|don'?t) (own|use) (one|any)\b|\bno (l[oa] )?(tengo|tenemos|uso|usamos)\b|"
    r"^\s*(e-?mail|mail|correo|phone|tel[eé]fono|m[oó]vil)\s*(no|not|nope)\b|"
    r"^\s*(no|sin|without|nada de) (e-?mail|mail|correo|phone|tel[eé]fono|m[oó]vil|company|empresa)\b",
    re.I,
)


def says_has_none(text: str) -> bool:
    """Whether the visitor says they have no such thing ("I don't have an e-mail", "no tengo móvil")."""
    return bool(_HAS_NONE.search(text))
