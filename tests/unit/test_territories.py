"""A territory from a country or city the visitor names (``crm_core.people.territories.stated_place``, places.yml)."""

import pytest

from crm_core.people.territories import Place, fold, stated_place


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("we're in Lyon", Place("FR", "Lyon", "city")),
        ("somos de Monterrey, buscamos un CRM", Place("MX", "Monterrey", "city")),
        ("Estamos en la Ciudad de México", Place("MX", "Ciudad de México", "city")),  # the longer name wins
        ("our office is based in the UK", Place("GB", "UK", "country")),
        ("We're a team of 12 in the U.S.", Place("US", "the U.S.", "country")),
        ("i live in bogota", Place("CO", "Bogotá", "city")),  # no accent, any case
        ("trabajamos desde SÃO PAULO", Place("BR", "São Paulo", "city")),
        ("una pyme de Alemania", Place("DE", "Alemania", "country")),
        ("from New York City", Place("US", "New York City", "city")),
    ],
)
def test_a_country_or_city_after_in_from_en_de_is_where_the_visitor_is(text: str, expected: Place) -> None:
    assert stated_place(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "can I buy from us directly?",  # "us" alone is a word, only "the US" is a country
        "like the Paris agreement says",  # a place without "in" / "from" / "en" / "de" says nothing
        "we sell to Madrid and Sevilla",
        "nos vemos en el faro",  # Faro (PT) is left out: a Spanish word
        "in Londonderry",  # a name inside a longer word is not that place
        "",
    ],
)
def test_a_place_not_stated_as_where_they_are_gives_nothing(text: str) -> None:
    assert stated_place(text) is None


def test_a_city_of_two_territories_needs_its_country_named_too() -> None:
    assert stated_place("somos de Córdoba") is None  # AR or ES
    assert stated_place("somos de Córdoba, Argentina") == Place("AR", "Córdoba", "city")
    assert stated_place("estamos en Córdoba (España)") == Place("ES", "Córdoba", "city")


def test_the_first_place_stated_in_a_message_counts() -> None:
    assert stated_place("we're in Dublin, with a second office in Lisbon") == Place("IE", "Dublin", "city")


def test_fold_drops_case_accents_and_extra_spaces() -> None:
    assert fold("  Bogotá   D.C. ") == "bogota d.c."
    assert fold("MÚNICH") == fold("munich")
