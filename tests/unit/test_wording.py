"""What counts as written like a name (nlu_components/wording.py, used by the NLU's NameGuard)."""

import pytest

from nlu_components.wording import name_shaped, words


@pytest.mark.parametrize(
    "text",
    [
        "Ines Moreau",
        "Hiroshi",
        "Verde Agro SA de CV",
        "Just Eat",
        "Siobhan O'Neill",
        "MORENO & HIJOS",
        "3M España",
    ],
)
def test_names_and_companies_are_name_shaped(text: str) -> None:
    assert name_shaped(text)


@pytest.mark.parametrize(
    "text",
    [
        "Stop asking me things",
        "talk to a human",
        "Are You A Bot?",
        "¿Quién Eres",
        "123 456",
        "",
        "A B C D E F G",
    ],
)
def test_sentences_questions_and_numbers_are_not(text: str) -> None:
    assert not name_shaped(text)


def test_words_are_lower_cased_letters_and_digits() -> None:
    assert words("Ines Moreau-Petit, 2 tiendas!") == {"ines", "moreau", "petit", "2", "tiendas"}
