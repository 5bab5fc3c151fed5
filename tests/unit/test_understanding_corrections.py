"""Corrections and several facts in one message (crm_core.understanding): the new value is found wherever
the visitor puts it, in English and Spanish."""

import pytest

from crm_core.understanding import (
    find_email,
    find_person_name,
    find_phone,
    is_correction,
    parse_person_name,
    parse_phone,
    phone_regions,
)


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("oops, typo in my address: marta.vidal@northwind.example", "marta.vidal@northwind.example"),
        ("perdona, me equivoqué en el correo: es jorge@panaderia-sol.es", "jorge@panaderia-sol.es"),
        ("not kim@acme.example but kim.lee@acme.example, sorry", "kim.lee@acme.example"),
        ("no e-mail here, just call me", None),
    ],
)
def test_a_corrected_email(text: str, email: str | None) -> None:
    assert find_email(text) == email


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("sorry - full name is Dolores Ibarra Sanz", "Dolores Ibarra Sanz"),
        ("perdón, mi nombre completo es Tomás de la Fuente", "Tomás de la Fuente"),
        ("actually it's Katrin, with a K", "Katrin"),
        ("en realidad soy Begoña", "Begoña"),
        ("my name is Lee Chen and we sell bikes", "Lee Chen"),
        ("actually it's urgent", None),  # no capitalised name after the lead-in
        ("Hello, Pedro Almeida here, ops lead at Vinte", "Pedro Almeida"),
        ("Lucía Ferrer por aquí: buscamos un bot", "Lucía Ferrer"),
    ],
)
def test_a_corrected_name(text: str, name: str | None) -> None:
    assert find_person_name(text) == name


@pytest.mark.parametrize(
    ("answer", "name"),
    [
        ("sorry - full name is Dolores Ibarra Sanz", "Dolores Ibarra Sanz"),
        ("perdón, mi nombre completo es Tomás de la Fuente", "Tomás de la Fuente"),
        ("I'm Theo from Initech", "Theo"),
        ("name: Wanjiru Kamau", "Wanjiru Kamau"),
        ("es Íñigo, con tilde", "Íñigo"),
        ("oops - my name's Zoë Clarke actually", "Zoë Clarke"),
    ],
)
def test_a_whole_answer_to_the_name_question(answer: str, name: str) -> None:
    assert parse_person_name(answer) == name


def test_a_corrected_phone_is_the_last_one() -> None:
    assert find_phone("not 612 345 678, it's 622 333 444", "ES") == "+34622333444"
    assert find_phone("call me on (212) 555-0188", "US") == "+12125550188"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oops, typo in my address", True),
        ("sorry, I meant next month", True),
        ("actually it's 40 people", True),
        ("perdona, me equivoqué", True),
        ("mejor dicho, somos 30", True),
        ("we need a booking bot", False),
        ("me llamo Ana", False),
    ],
)
def test_is_correction(text: str, expected: bool) -> None:
    assert is_correction(text) is expected


@pytest.mark.parametrize(
    ("text", "language", "locale", "phone"),
    [
        ("07911 123456", "en", None, "+447911123456"),  # a UK mobile, not a US number
        ("(415) 555-2671", "en", None, "+14155552671"),
        ("612 34 56 78", "es", None, "+34612345678"),
        ("55 1234 5678", "es", "es-MX", "+525512345678"),
    ],
)
def test_a_local_number_is_read_in_the_visitors_likely_countries(
    text: str, language: str, locale: str | None, phone: str
) -> None:
    assert parse_phone(text, phone_regions(language, locale)) == phone


def test_the_answer_to_the_phone_question_may_be_a_number_of_a_reserved_range() -> None:
    regions = phone_regions("en")
    assert parse_phone("07700 900124", regions) is None  # in passing, only a valid number is one
    assert parse_phone("07700 900124", regions, possible=True) == "+447700900124"
    assert parse_phone("call me on 2026", regions, possible=True) is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hey, I'm Tomasz Wójcik, ops lead at Fernhill Bakeries (30 people), we need a bot", "Tomasz Wójcik"),
        ("buenas, soy Lucía Pardo de la Fuente, de Ferretería Norte", "Lucía Pardo de la Fuente"),
        ("this is Omar Haddad from Vela Tours", "Omar Haddad"),
        ("I'm Head of Growth at Tandem", None),  # a role, not a name
        ("soy Directora Comercial y decido yo", None),
        ("I'm the CTO at Acme", None),
    ],
)
def test_a_visitor_who_introduces_themselves_in_a_longer_message_gives_their_name(
    text: str, name: str | None
) -> None:
    assert find_person_name(text) == name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("oops, I typed my name badly, it's Priya Raman - and my mail is priya@raman.example", "Priya Raman"),
        ("disculpa, puse mal el nombre: soy Maite Urquiza", "Maite Urquiza"),
        ("sorry, it's urgent for us", None),
    ],
)
def test_a_name_corrected_after_saying_what_went_wrong_is_found(text: str, name: str | None) -> None:
    assert find_person_name(text) == name
