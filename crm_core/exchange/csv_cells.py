"""CSV cells a spreadsheet would run as a formula: neutralised in every export, restored on import.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading
apostrophe (spreadsheets show it as text and hide the mark). So that importing our own export gives back
exactly what was exported, a cell that already starts with apostrophes before such a character gets one
more, and ``restore`` takes exactly one off such cells and leaves every other cell as it is.
"""

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _marked(text: str) -> bool:
    """One or more apostrophes, then a formula's first character."""
    rest = text.lstrip("'")
    return rest != text and rest.startswith(FORMULA_STARTS)


def defuse(value: object) -> object:
    """The value to write in a cell: text that could run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS) or _marked(value)):
        return "'" + value
    return value


def defused(row: Iterable[object]) -> list[object]:
    return [defuse(value) for value in row]


def restore(text: str) -> str:
    """The value an exported cell stood for (a cell from elsewhere is taken as it is)."""
    return text[1:] if _marked(text) else text
