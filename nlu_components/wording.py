"""Plain functions about a message's wording, shared by the NLU components (no Rasa imports: unit-tested
in the app environment)."""

import re

# Lower-case words that stay lower-case inside names: "Verde Agro SA de CV", "Ludwig van Beethoven".
NAME_PARTICLES = frozenset(
    [
        "de",
        "del",
        "la",
        "las",
        "los",
        "y",
        "e",
        "da",
        "di",
        "do",
        "dos",
        "du",
        "van",
        "von",
        "der",
        "den",
        "le",
        "et",
        "of",
        "and",
        "the",
        "el",
        "al",
        "bin",
        "ibn",
        "&",
    ]
)
MAX_NAME_WORDS = 6


def words(text: str) -> set[str]:
    """The lower-cased words of ``text`` ("Ines Moreau-Petit!" → {"ines", "moreau", "petit"})."""
    return set(re.findall(r"[^\W_]+", text.lower()))


def name_shaped(text: str) -> bool:
    """Whether ``text`` is written like a name: a few capitalised words ("Blue Harbor Ltd", "Hiroshi",
    "Verde Agro SA de CV"), no question. People type sentences in lower case after the first word."""
    if "?" in text or "¿" in text:
        return False
    tokens = text.split()
    if not 1 <= len(tokens) <= MAX_NAME_WORDS:
        return False
    lettered = [token for token in tokens if any(character.isalpha() for character in token)]
    if not lettered:
        return False
    return all(_first_letter(token).isupper() or token.lower() in NAME_PARTICLES for token in lettered)


def _first_letter(token: str) -> str:
    return next(character for character in token if character.isalpha())


# Five consonants in a row: "asdkjh", "sdfsdf", "jjjjjj". Written English and Spanish words almost never
# have them ("strengths" is the rare exception); keyboard mashing almost always does.
_MASHED = re.compile(r"[b-df-hj-np-tv-xz]{5}")


def keyboard_mash(text: str) -> bool:
    """Whether most of ``text`` is typed at random ("asdkjh qwe", "jjjjjj"): over half of its letters are
    in plain-ASCII words with five consonants in a row. Names ("Brzezinski") are never mash."""
    if name_shaped(text):
        return False
    tokens = re.findall(r"[^\W\d_]+", text)
    letters = sum(len(token) for token in tokens)
    mashed = sum(len(token) for token in tokens if token.isascii() and _MASHED.search(token.lower()))
    return letters > 0 and mashed * 2 > letters
