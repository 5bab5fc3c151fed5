"""Which language the visitor writes in: from the client's locale, else from the text (``lingua``)."""

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any


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
