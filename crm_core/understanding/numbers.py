"""Numbers as visitors write them: digits with either thousands convention, and number words (en, es)."""

import re
from decimal import Decimal, InvalidOperation

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100,
    "couple of": 2, "few": 3, "a couple of": 2, "a few": 3, "un": 1, "una": 1, "uno": 1, "dos": 2,
    "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
    "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15, "dieciséis": 16, "dieciseis": 16,
    "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, "treinta": 30, "cuarenta": 40,
    "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90, "cien": 100, "mil": 1000,
    "un par de": 2, "par de": 2, "unos": 3, "unas": 3, "unos pocos": 3, "unas pocas": 3,
}  # fmt: skip
NUMBER_WORD_PATTERN = "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
# A count: digits, or a number word as a whole word ("a" inside "am" is not one).
COUNT = rf"(?:\d+|\b(?:{NUMBER_WORD_PATTERN})\b)"


def to_number(text: str) -> Decimal | None:
    """'20,000' / '20.000' → 20000; '1,200.50' / '1.200,50' → 1200.50; '1.5' / '1,5' → 1.5; 'veinte' → 20."""
    lowered = text.lower().strip()
    if lowered in NUMBER_WORDS:
        return Decimal(NUMBER_WORDS[lowered])
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


HUNDREDS = {
    "cien": 100, "ciento": 100, "doscientos": 200, "doscientas": 200, "trescientos": 300, "trescientas": 300,
    "cuatrocientos": 400, "cuatrocientas": 400, "quinientos": 500, "quinientas": 500, "seiscientos": 600,
    "seiscientas": 600, "setecientos": 700, "setecientas": 700, "ochocientos": 800, "ochocientas": 800,
    "novecientos": 900, "novecientas": 900, "a hundred": 100, "one hundred": 100, "two hundred": 200,
    "three hundred": 300, "four hundred": 400, "five hundred": 500, "six hundred": 600, "seven hundred": 700,
    "eight hundred": 800, "nine hundred": 900,
}  # fmt: skip
HUNDREDS_PATTERN = "|".join(sorted((re.escape(w) for w in HUNDREDS), key=len, reverse=True))


def to_count(text: str) -> int:
    """A count written as digits or a number word ("12", "twelve", "doce")."""
    lowered = text.lower().strip()
    return int(lowered) if lowered.isdigit() else NUMBER_WORDS[lowered]
