"""Budgets as visitors say them (crm_core.understanding.money): ranges, multipliers, separators, currencies,
periods normalised to a yearly figure, and numbers that are people, not money."""

from decimal import Decimal

import pytest

from crm_core.understanding import Budget, mentions_budget, parse_budget, parse_company_size


def budget(text: str) -> Budget:
    found = parse_budget(text)
    assert found is not None, text
    return found


@pytest.mark.parametrize(
    ("text", "low", "high", "currency"),
    [
        ("somewhere from four to five thousand pounds", 4000, 5000, "GBP"),
        ("8-11k USD", 8000, 11000, "USD"),
        ("entre 6 y 9 mil euros", 6000, 9000, "EUR"),
        ("between 25 and 35 thousand dollars", 25000, 35000, "USD"),
        ("de 2 a 3 millones de pesos", 2_000_000, 3_000_000, "MXN"),
    ],
)
def test_a_range_keeps_both_ends(text: str, low: int, high: int, currency: str) -> None:
    found = budget(text)
    assert (found.amount, found.amount_max, found.currency) == (Decimal(low), Decimal(high), currency)


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("about 7 grand", 7000, None),
        ("roughly 18k", 18000, None),
        ("unos 40 mil dólares", 40000, "USD"),
        ("medio millón no, un millón de euros", 1_000_000, "EUR"),
        ("14.750 €", 14750, "EUR"),  # a dot between thousands
        ("14,750", 14750, None),  # a comma between thousands
        ("north of 60k EUR", 60000, "EUR"),
        ("£2,300", 2300, "GBP"),
        ("9000 libras", 9000, "GBP"),
        ("30 mil pesos", 30000, "MXN"),  # pesos alone: Mexican
        ("3000 MXN", 3000, "MXN"),
        ("$45,000 MXN", 45000, "MXN"),  # the peso's sign is "$" too: the code decides
        ("$8,000 pesos", 8000, "MXN"),
        ("3 mil pesos colombianos", 3000, "COP"),
        ("20k CHF", 20000, "CHF"),  # a currency we have no name for: its code
        ("5000", 5000, None),  # no currency said
        ("we can stretch to 2.5k", 2500, None),
        ("tres mil quinientos euros", 3500, "EUR"),
        ("four thousand five hundred dollars", 4500, "USD"),
        ("menos de mil euros", 1000, "EUR"),
    ],
)
def test_one_amount(text: str, amount: int, currency: str | None) -> None:
    found = budget(text)
    assert (found.amount, found.amount_max, found.currency, found.period) == (
        Decimal(amount),
        None,
        currency,
        None,
    )


@pytest.mark.parametrize(
    ("text", "yearly", "currency", "period"),
    [
        ("$380 per month", 4560, "USD", "month"),
        ("maybe 120 a month", 1440, None, "month"),
        ("€900/mo", 10800, "EUR", "month"),
        ("1,200 quarterly", 4800, None, "quarter"),
        ("6k per year", 6000, None, "year"),
        ("unos 300 euros mensuales", 3600, "EUR", "month"),
        ("150 libras al mes", 1800, "GBP", "month"),
        ("2.000 € al año", 2000, "EUR", "year"),
    ],
)
def test_a_period_becomes_a_yearly_figure(text: str, yearly: int, currency: str | None, period: str) -> None:
    found = budget(text)
    assert (found.amount, found.currency, found.period) == (Decimal(yearly), currency, period)


def test_a_per_seat_price_times_the_seats() -> None:
    found = budget("$25 per seat per month, we'd start with 12 seats")
    assert (found.amount, found.period, found.per_seat, found.seats) == (Decimal(3600), "month", True, 12)
    found = budget("15 € por usuario al mes, seríamos 20 usuarios")
    assert (found.amount, found.currency, found.seats) == (Decimal(3600), "EUR", 20)
    found = budget("£10 per person a month - we're 30 people")  # the head count is the seat count
    assert (found.amount, found.seats) == (Decimal(3600), 30)
    found = budget("12 € por usuario y mes, somos 25")
    assert (found.amount, found.period, found.seats) == (Decimal(3600), "month", 25)
    alone = budget("$40 per user per month")  # no count: the yearly figure of one seat
    assert (alone.amount, alone.per_seat, alone.seats) == (Decimal(480), True, None)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("(we're roughly 35 people)", 35),
        ("(somos unas 70 personas)", 70),
        ("about 18 of us", 18),
        ("240 staff", 240),
        ("un equipo de 9", 9),
        ("a team of 14", 14),
        ("somos 60 empleados", 60),
    ],
)
def test_a_head_count_is_a_size_never_a_budget(text: str, size: int) -> None:
    assert parse_company_size(text) == size
    assert not mentions_budget(text)
    found = parse_budget(text)
    assert found is None or found.amount is None


@pytest.mark.parametrize(
    ("text", "amount", "size"),
    [
        ("around 15k, we're 35 people", 15000, 35),
        ("unos 8 mil euros (somos unas 20 personas)", 8000, 20),
        ("we'd spend 4 grand; about 18 of us use it", 4000, 18),
    ],
)
def test_a_budget_next_to_a_head_count(text: str, amount: int, size: int) -> None:
    assert mentions_budget(text)
    assert budget(text).amount == Decimal(amount)
    assert parse_company_size(text) == size


@pytest.mark.parametrize(
    "text",
    [
        "we need it in 2 months",
        "in a month, maybe",
        "for 12 months",
        "en 2027",
        "the second week of May",
        "about 15% of what we spend on ads",
    ],
)
def test_durations_and_dates_are_not_money(text: str) -> None:
    assert not mentions_budget(text)
    found = parse_budget(text)
    assert found is None or found.amount is None


def test_a_duration_does_not_make_a_monthly_budget() -> None:
    found = budget("5k total, we need it in a month")
    assert (found.amount, found.period) == (Decimal(5000), None)


@pytest.mark.parametrize("text", ["no budget set aside yet", "todavía no hay presupuesto", "ni idea"])
def test_no_budget_yet(text: str) -> None:
    assert budget(text).none_yet


def test_amounts_are_whole_numbers_when_they_are() -> None:
    # the form stores the amount as text: "2500", not "2500.0"
    assert str(budget("we can stretch to 2.5k").amount) == "2500"
    assert str(budget("9,99 € al mes").amount) == "119.88"
