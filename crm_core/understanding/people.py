"""Who the visitor is: their name, their company and its head count ("we're 40 people": a size, not money)."""

import re

from crm_core.understanding.numbers import NUMBER_WORD_PATTERN, to_number

_CORRECTION_WORDS = (
    r"(?:sorry|oops|actually|sorry,? typo|correction|perd[oó]n|perdona|disculpa|en realidad|ojo)"
)
_NAME_PREFIX = re.compile(
    rf"^\s*(?:(?:hi|hello|hey|hola|{_CORRECTION_WORDS})[\s,!.:;-]*)*"
    r"(?:my (?:full |real )?name is|my name's|(?:the )?full name is|full name:?|name is|name:|nombre:|"
    r"i am|i'm|im|it's|its|"
    r"this is|call me|me llamo|mi nombre (?:completo |real )?es|(?:el )?nombre completo es|nombre completo:?|"
    r"soy|ll[aá]mame|es)\s+",
    re.I,
)
_COMPANY_PREFIX = re.compile(
    r"^\s*(i work (at|for)|we are|we're|it's|its|the company is|company is|my company is|at|for|from|"
    r"trabajo (en|para)|somos|es|la empresa es|mi empresa es|en|de|desde)\s+",
    re.I,
)
_PARTICLE = r"(?:de|del|de la|de los|van|von|da|di|y)"
_CAPITAL_WORD = r"[A-ZÁÉÍÓÚÑÜ][\w'-]*"
# The name itself: its first word in any case ("me llamo lucía"), later ones capitalised ("Ana Ruiz and I…").
_NAME = rf"(?P<name>[^\W\d_][\w'-]*(?:\s+(?:{_PARTICLE}\s+)?{_CAPITAL_WORD}){{0,3}})"
_NAME_MENTION = re.compile(
    r"(?i:\b(?:my (?:full |real )?name is|my name's|(?:the )?full name is|full name:|i'm called|call me|"
    r"me llamo|mi nombre (?:completo |real )?es|(?:el )?nombre completo es|nombre completo:|ll[aá]mame))"
    rf"\s*[:-]?\s+{_NAME}"
)
# "actually it's Jon", "perdón, es Jon": only a capitalised word counts ("actually it's urgent" is no name).
_CORRECTED_NAME = re.compile(
    # the lead-in may say what went wrong first: "sorry, I spelled my own name wrong, it's John Marsh"
    rf"(?i:\b(?:actually|sorry|oops|perd[oó]n|perdona|disculpa|en realidad)\b[^.?!]{{0,60}}?"
    rf"[\s,!:;-](?:it'?s|it is|i'?m|es|soy|me llamo))\s+"
    rf"(?P<name>{_CAPITAL_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_CAPITAL_WORD}){{0,3}})"
)

# "Hi, I'm Noah Kim, COO at …", "soy Bea Lozano, de Hortalia": two or more capitalised words introduced by
# the visitor and ended by punctuation, "from/at/de" or the message's end ("I'm Director of Sales" is a role).
_INTRODUCTION = re.compile(
    r"(?i:\b(?:i'?m|i am|this is|soy))\s+"
    rf"(?P<name>{_CAPITAL_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_CAPITAL_WORD}){{1,3}})"
    r"(?=\s*[,.;:!()]|\s+(?i:from|at|with|here|de|del|desde|aqu[ií])\b|\s*$)"
)
# "Hi, Laura Mendes here, …", "Carmen Vidal por aquí": a full name announcing itself.
_HERE = re.compile(
    rf"(?:^|[,.!]\s*|(?i:\b(?:hi|hello|hey|hola|buenas))\s+)"
    rf"(?P<name>{_CAPITAL_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_CAPITAL_WORD}){{1,3}})\s+(?i:here|por aqu[ií])\b"
)
_ROLE_WORDS = {
    "ceo", "cto", "coo", "cfo", "cmo", "vp", "head", "director", "directora", "founder", "co-founder",
    "owner", "manager", "gerente", "jefe", "jefa", "responsable", "the", "el", "la", "un", "una", "a", "an",
}  # fmt: skip


def _tidy(text: str, prefix: re.Pattern[str]) -> str | None:
    value = prefix.sub("", text.strip()).strip(" .!,")
    return value[:200] or None


# What follows a name in an answer: "Tom from Globex", "Álvaro, con tilde", "Anne not Ann", "Zoë actually"
_AFTER_NAME = re.compile(
    r"\s*[,;(]|\s+(?:from|at|with|and|but|not|here|y|pero|no|aqu[ií]|desde)\s|"
    r"\s+(?:actually|really|please|thanks|thank you|por favor|gracias|en realidad)\W*$",
    re.I,
)


def parse_person_name(text: str) -> str | None:
    """A person's name with "my name is …" / "me llamo …" / "sorry - full name is …" lead-ins removed and what
    follows it ("from Globex", ", con tilde") cut; None when what is left cannot be a name (an e-mail
    address, a number, a web address)."""
    name = _tidy(text, _NAME_PREFIX)
    if name is not None:
        name = _AFTER_NAME.split(name, maxsplit=1)[0].strip(" .!,") or None
    if name is None or re.search(r"[@\d/\\]|https?:|www\.", name):
        return None
    return name


def find_person_name(text: str) -> str | None:
    """A name introduced inside a longer message: "…, my name is Ana Ruiz" / "Hi, I'm Ana Ruiz, CTO at …" →
    "Ana Ruiz"; a correction such as
    "sorry - full name is Ana Ruiz Gil" or "actually it's Jon" → that name. The last one wins."""
    found = [m for pattern in (_NAME_MENTION, _CORRECTED_NAME, _HERE) for m in pattern.finditer(text)]
    found += [m for m in _INTRODUCTION.finditer(text) if m["name"].split()[0].lower() not in _ROLE_WORDS]
    if not found:
        return None
    return max(found, key=lambda m: m.start())["name"].strip()


def parse_company(text: str) -> str | None:
    """A company name with "I work at …" / "trabajo en …" and similar lead-ins removed."""
    return _tidy(text, _COMPANY_PREFIX)


_CAPITALISED = r"[A-Z0-9][\w&'.-]*(?:\s+(?:[A-Z0-9][\w&'.-]*|&))*"
_COMPANY_MENTION = re.compile(
    rf"\b(?:at|for|from|with|en|de|para|desde)\s+(?P<company>{_CAPITALISED})",
)
_NOT_COMPANIES = {"q1", "q2", "q3", "q4", "i", "the", "a", "el", "la", "los", "las", "un", "una"}


def find_company(text: str) -> str | None:
    """A company named inside a longer message ("I'm the CTO at Acme, …" → "Acme")."""
    for match in _COMPANY_MENTION.finditer(text):
        company = match["company"].strip(" .,")
        if company.lower() not in _NOT_COMPANIES and not company[0].isdigit():
            return company
    return None


_HEAD = rf"(?P<count>\d[\d,.]*|{NUMBER_WORD_PATTERN})\s*(?P<k>k)?"
_PEOPLE = (
    r"people|employees|staff|persons|workers|colleagues|team members|members of staff|heads|"
    r"personas|empleados|empleadas|trabajadores|trabajadoras|colaboradores|compañeros"
)
# Seats and users are what a visitor buys, not how big the company is: they stay out of the size.
_COMPANY_SIZE = (
    re.compile(rf"\b{_HEAD}\s+(?:[^\W\d_]+\s+)?(?:{_PEOPLE})\b", re.I),
    re.compile(rf"\b{_HEAD}\s+of us\b", re.I),
    # "somos 12", "we're 12 in the office": a bare count after "we are", not "we're 2 weeks away"
    re.compile(
        r"\b(?:somos|we'?re|we are)\s+(?:about |around |roughly |unos |unas |casi )?(?P<count>\d+)(?P<k>k)?"
        r"(?=\s*(?:$|[,.;:)!?]|and\b|y\b|en\b|in\b))",
        re.I,
    ),
    re.compile(
        rf"\b(?:a team of|team of|headcount (?:of|is)|staff of|un equipo de|equipo de|una plantilla de|"
        rf"plantilla de)\s+(?:about |around |roughly |some |unos |unas |casi |m[aá]s de )?{_HEAD}\b",
        re.I,
    ),
)


def people_count_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` counts people ("40 people", "about 25 of us", "un equipo de 12"): never money."""
    return [match.span() for pattern in _COMPANY_SIZE for match in pattern.finditer(text)]


def parse_company_size(text: str) -> int | None:
    """Head count from "we're 50 people", "about 25 of us", "un equipo de 12"; None when not stated."""
    found = [match for pattern in _COMPANY_SIZE for match in pattern.finditer(text)]
    if not found:
        return None
    match = min(found, key=lambda m: m.start())
    value = to_number(match["count"].rstrip(".,"))
    if value is None:
        return None
    return int(value * (1000 if match["k"] else 1))
