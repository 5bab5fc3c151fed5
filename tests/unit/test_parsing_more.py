"""The odd inputs of issue #3: ranges, Spanish amounts and dates, quarters, phones, languages."""

from datetime import date
from decimal import Decimal

import pytest

from crm_core.models import Authority
from crm_core.understanding import (
    detect_language,
    find_company,
    find_person_name,
    language_from_locale,
    mentions_budget,
    mentions_timeline,
    parse_authority,
    parse_budget,
    parse_company,
    parse_company_size,
    parse_person_name,
    parse_phone,
    parse_timeline_days,
)

TODAY = date(2026, 5, 10)  # in Q2


@pytest.mark.parametrize(
    ("text", "amount", "amount_max", "currency"),
    [
        ("50k", Decimal("50000"), None, None),
        ("$20,000", Decimal("20000"), None, "USD"),
        ("20 mil euros", Decimal("20000"), None, "EUR"),
        ("unos 20 mil €", Decimal("20000"), None, "EUR"),
        ("between 10 and 20k", Decimal("10000"), Decimal("20000"), None),
        ("from $5k to $8k", Decimal("5000"), Decimal("8000"), "USD"),
        ("10-15k USD", Decimal("10000"), Decimal("15000"), "USD"),
        ("entre 10 y 20 mil euros", Decimal("10000"), Decimal("20000"), "EUR"),
        ("1,5 millones de pesos mexicanos", Decimal("1500000"), None, "MXN"),
        ("un millón de dólares", Decimal("1000000"), None, "USD"),
        ("twenty thousand pounds", Decimal("20000"), None, "GBP"),
        ("veinte mil dólares", Decimal("20000"), None, "USD"),
        ("1,200.50 dollars", Decimal("1200.50"), None, "USD"),
        ("1.200,50 €", Decimal("1200.50"), None, "EUR"),
    ],
)
def test_budget_odd_inputs(
    text: str, amount: Decimal, amount_max: Decimal | None, currency: str | None
) -> None:
    budget = parse_budget(text)
    assert budget is not None
    assert (budget.amount, budget.amount_max, budget.currency, budget.none_yet) == (
        amount,
        amount_max,
        currency,
        False,
    )


@pytest.mark.parametrize(
    "text", ["sin presupuesto todavía", "no tenemos presupuesto", "aún no", "ni idea", "por definir"]
)
def test_spanish_no_budget_yet(text: str) -> None:
    budget = parse_budget(text)
    assert budget is not None and budget.none_yet and budget.amount is None


def test_words_inside_other_words_are_not_amounts() -> None:
    assert parse_budget("I am the boss") is None
    assert parse_budget("we need it in Q3") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("we need a CRM for 20 people", False),
        ("I'm the CTO at Acme, we need it next month, about 20k", True),
        ("our budget is 8000", True),
        ("tenemos 5000 euros", True),
        ("in 2 months", False),
        ("I am the co-founder and I sign the contracts", False),
        ("I'm a mom of two", False),
    ],
)
def test_mentions_budget(text: str, expected: bool) -> None:
    assert mentions_budget(text) is expected


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Q3", 52),  # 2026-07-01
        ("in Q2", 52),  # the current quarter: until its end
        ("Q1", 236),  # next year's
        ("third quarter", 52),
        ("en el tercer trimestre", 52),
        ("T4", 144),
        ("lo antes posible", 7),
        ("cuanto antes", 7),
        ("la semana que viene", 14),
        ("la próxima semana", 14),
        ("el mes que viene", 30),
        ("en dos meses", 60),
        ("dentro de tres semanas", 21),
        ("en 6 meses", 180),
        ("en un par de meses", 60),
        ("el año que viene", 365),
        ("within the next fortnight", 14),
        ("by the end of the year", 235),
        ("a finales de año", 235),
        ("fin de año", 235),
        ("by June 1st", 22),
        ("antes del 15 de junio", 36),
        ("no estoy seguro", None),
        ("todavía no lo sabemos", None),
        ("sin prisa", None),
        ("not sure", None),
    ],
)
def test_timeline_odd_inputs(text: str, days: int | None) -> None:
    assert parse_timeline_days(text, today=TODAY) == days


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm the CTO at Acme, we need it next month, about 20k", True),
        ("lo necesitamos en dos meses", True),
        ("we need it in Q3", True),
        ("a CRM for 20 people", False),
        ("we have 3 sales reps", False),
    ],
)
def test_mentions_timeline(text: str, expected: bool) -> None:
    assert mentions_timeline(text) is expected


@pytest.mark.parametrize(
    ("text", "authority"),
    [
        ("soy el director general", Authority.DECISION_MAKER),
        ("soy la dueña", Authority.DECISION_MAKER),
        ("yo decido", Authority.DECISION_MAKER),
        ("tengo que consultarlo con mi jefe", Authority.INFLUENCER),
        ("mi jefa decide", Authority.INFLUENCER),
        ("soy la administrativa, quien firma es la doctora", Authority.INFLUENCER),
        ("lo aprueba mi socio", Authority.INFLUENCER),
        ("soy yo quien decide", Authority.DECISION_MAKER),
        ("soy estudiante", Authority.RESEARCHER),
        ("I'm the CTO at Acme", Authority.DECISION_MAKER),
    ],
)
def test_spanish_authority(text: str, authority: Authority) -> None:
    assert parse_authority(text) is authority


@pytest.mark.parametrize(
    ("text", "region", "phone"),
    [
        ("+34 612 34 56 78", "US", "+34612345678"),
        ("mi móvil es 612 345 678", "ES", "+34612345678"),
        ("call me on (415) 555-2671", "US", "+14155552671"),
        ("+1 415-555-2671 please", None, "+14155552671"),
        ("0044 20 7946 0958", "ES", "+442079460958"),
        ("about 20000 dollars", "US", None),
        ("12345", "ES", None),
        ("no phone", "US", None),
    ],
)
def test_phone_e164(text: str, region: str | None, phone: str | None) -> None:
    assert parse_phone(text, region) == phone


def test_names_companies_and_sizes_in_longer_messages() -> None:
    assert find_company("I'm the CTO at Acme, we need it next month, about 20k") == "Acme"
    assert find_company("soy la directora de Tostadas Ruiz, lo queremos ya") == "Tostadas Ruiz"
    assert find_company("we need it in Q3") is None
    assert find_company("we need it for the team") is None
    assert find_person_name("hi, my name is Ana Ruiz and I need a bot") == "Ana Ruiz"
    assert find_person_name("me llamo lucía") == "lucía"
    assert find_person_name("I need a bot") is None
    assert parse_person_name("me llamo Lucía Gómez") == "Lucía Gómez"
    assert parse_company("trabajo en Panadería Sol") == "Panadería Sol"
    assert parse_company_size("we're about 50 people") == 50
    assert parse_company_size("somos 120 empleados") == 120
    assert parse_company_size("2k employees") == 2000
    assert parse_company_size("a big company") is None


def test_language_from_locale_and_text() -> None:
    supported = ["en", "es"]
    assert language_from_locale("es-ES", supported) == "es"
    assert language_from_locale("en_GB", supported) == "en"
    assert language_from_locale("fr-FR", supported) is None
    assert language_from_locale(None, supported) is None
    assert detect_language("hola, buenas tardes", supported) == "es"
    assert detect_language("necesito un chatbot para mi tienda", supported) == "es"
    assert detect_language("good morning, we need a chatbot", supported) == "en"
    assert detect_language("20k", supported) is None
    assert detect_language("", supported) is None
    assert detect_language("anything", ["en"]) == "en"
