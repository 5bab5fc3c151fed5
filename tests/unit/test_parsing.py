"""The normalisers that turn visitors' words into policy inputs."""

from decimal import Decimal

import pytest

from crm_core.models import Authority
from crm_core.understanding import (
    parse_authority,
    parse_budget,
    parse_company,
    parse_email,
    parse_person_name,
    parse_timeline_days,
    says_has_none,
)


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("about $20k", Decimal("20000"), "USD"),
        ("50,000 euros", Decimal("50000"), "EUR"),
        ("£7.5k", Decimal("7500"), "GBP"),
        ("10000", Decimal("10000"), None),
        ("1.5m USD", Decimal("1500000"), "USD"),
        ("around 3 grand", Decimal("3000"), None),
        ("20.000 EUR", Decimal("20000"), "EUR"),
    ],
)
def test_budget_amounts(text: str, amount: Decimal, currency: str | None) -> None:
    budget = parse_budget(text)
    assert budget is not None
    assert (budget.amount, budget.currency, budget.none_yet) == (amount, currency, False)


@pytest.mark.parametrize("text", ["no budget yet", "We don't have a budget", "not sure", "TBD"])
def test_no_budget_yet(text: str) -> None:
    assert parse_budget(text) == parse_budget("none yet")
    budget = parse_budget(text)
    assert budget is not None and budget.none_yet and budget.amount is None


def test_text_with_no_budget_at_all_is_not_a_budget() -> None:
    assert parse_budget("purple elephants") is None


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("asap", 7),
        ("we need it right now", 7),
        ("next week", 14),
        ("next month", 30),
        ("in two months", 60),
        ("within 3 weeks", 21),
        ("in a couple of months", 60),
        ("in 6 months", 180),
        ("next year", 365),
        ("not sure", None),
        ("no rush, whenever", None),
        ("banana", None),
    ],
)
def test_timeline_days(text: str, days: int | None) -> None:
    assert parse_timeline_days(text) == days


@pytest.mark.parametrize(
    ("text", "authority"),
    [
        ("I'm the CTO", Authority.DECISION_MAKER),
        ("co-founder here", Authority.DECISION_MAKER),
        ("I make the decision", Authority.DECISION_MAKER),
        ("I own the business", Authority.DECISION_MAKER),
        ("I run the company", Authority.DECISION_MAKER),
        ("I'm in charge of purchasing", Authority.DECISION_MAKER),
        ("I need to ask my boss", Authority.INFLUENCER),
        ("I'm not the decision maker", Authority.INFLUENCER),
        ("it needs approval from finance", Authority.INFLUENCER),
        ("I'm the office manager, the dentist signs off", Authority.INFLUENCER),
        ("I'm the CTO but our CEO has the final say", Authority.INFLUENCER),
        ("I don't have the last word on this", Authority.INFLUENCER),
        ("I'm the one who signs off on purchases", Authority.DECISION_MAKER),
        ("I'm a student", Authority.RESEARCHER),
        ("sales rep", Authority.UNKNOWN),
    ],
)
def test_authority(text: str, authority: Authority) -> None:
    assert parse_authority(text) is authority


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("jane@example.com", "jane@example.com"),
        ("my email is Jane.Doe@Example.COM.", "Jane.Doe@example.com"),
        ("<bob@mail.example>", "bob@mail.example"),
        ("jane@", None),
        ("jane at example dot com", None),
        ("a@b", None),
        ("", None),
    ],
)
def test_email(text: str, email: str | None) -> None:
    assert parse_email(text) == email


def test_names_and_companies_lose_their_lead_in() -> None:
    assert parse_person_name("Hi, my name is Jane Doe.") == "Jane Doe"
    assert parse_person_name("call me Sam") == "Sam"
    assert parse_person_name("   ") is None
    assert parse_company("I work at Acme Corp") == "Acme Corp"
    assert parse_company("Globex") == "Globex"


@pytest.mark.parametrize(
    "text",
    ["I am the co-founder and I sign the contracts", "our team decides", "I'm a student", "a team of ten"],
)
def test_words_that_only_look_like_amounts_are_not_budgets(text: str) -> None:
    budget = parse_budget(text)
    assert budget is None or budget.amount is None


@pytest.mark.parametrize("text", ["dana.scully@", "jane@example.com", "12345", "www.example.com"])
def test_what_cannot_be_a_name_is_not_taken_as_one(text: str) -> None:
    assert parse_person_name(text) is None


def test_a_question_is_recognised_in_both_languages() -> None:
    from crm_core.understanding import is_question

    assert is_question("what's the weather like? ") and is_question("¿me cuentas un chiste")
    assert not is_question("Lakeshore Cycles") and not is_question("Blue Harbor Ltd.")


@pytest.mark.parametrize(
    "text",
    [
        "I don't have an e-mail",
        "we dont have one",
        "I never use email",
        "no tengo móvil",
        "no email, sorry",
        "sin correo",
        "no usamos teléfono fijo",
        "el correo no lo uso nunca",
        "email no, llámame",
    ],
)
def test_saying_there_is_none(text: str) -> None:
    assert says_has_none(text)


@pytest.mark.parametrize(
    "text", ["ana@example.com", "no problem", "I don't know", "nope", "no sé", "call me on +34 600 000 000"]
)
def test_not_saying_there_is_none(text: str) -> None:
    assert not says_has_none(text)
