"""When a visitor needs it, read from their words (crm_core.understanding.timeline), English and Spanish.

Expectations are the date a sales rep would write down; the test turns it into days from TODAY.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from crm_core.understanding import mentions_timeline, parse_timeline_days, today_in

TODAY = date(2026, 3, 18)  # a Wednesday in Q1


@pytest.mark.parametrize(
    ("text", "needed_by"),
    [
        # end / beginning / middle of a month, its second week
        ("we'd like it live by the end of May", date(2026, 5, 31)),
        ("ideally at the beginning of June", date(2026, 6, 5)),
        ("around the middle of April", date(2026, 4, 15)),
        ("the second week of July works", date(2026, 7, 8)),
        ("before March is out", date(2026, 3, 31)),
        ("by mid-January", date(2027, 1, 15)),
        ("the beginning of March", date(2027, 3, 5)),  # already past: next year's
        ("a finales de mayo", date(2026, 5, 31)),
        ("antes de que termine abril", date(2026, 4, 30)),
        ("a principios de enero", date(2027, 1, 5)),
        ("a mediados de junio", date(2026, 6, 15)),
        ("la segunda semana de abril", date(2026, 4, 8)),
        ("antes de final de mes", date(2026, 3, 31)),
        ("before the end of this month", date(2026, 3, 31)),
        # seasons, holidays, quarters
        ("sometime after the summer", date(2026, 9, 1)),
        ("después del verano", date(2026, 9, 1)),
        ("right after New Year's", date(2027, 1, 1)),
        ("in the next quarter", date(2026, 4, 1)),
        ("el próximo trimestre", date(2026, 4, 1)),
        ("Q4", date(2026, 10, 1)),
        ("en el T3", date(2026, 7, 1)),
        ("not before Q2 next year", date(2027, 4, 1)),
        ("no antes del segundo trimestre del año que viene", date(2027, 4, 1)),
        ("by the end of next month", date(2026, 4, 30)),
        ("a finales del mes que viene", date(2026, 4, 30)),
        ("early next year", date(2027, 1, 1)),
        ("a mediados del año que viene", date(2027, 7, 1)),
        ("the second half of the year", date(2026, 7, 1)),
        ("en el segundo semestre", date(2026, 7, 1)),
        ("por navidades", date(2026, 12, 25)),
        ("justo después de Reyes", date(2027, 1, 7)),
        # the rest of the calendar, read by Duckling
        ("el 2 de abril", date(2026, 4, 2)),
        ("by April 20th", date(2026, 4, 20)),
        ("after Christmas", date(2026, 12, 25)),
    ],
)
def test_a_date_in_words(text: str, needed_by: date) -> None:
    assert parse_timeline_days(text, today=TODAY) == (needed_by - TODAY).days


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("within 10 days", 10),
        ("our current licence renews in six weeks", 42),
        ("in 14 months", 420),  # no cap: a long timeframe is still one
        ("dentro de un mes y medio", 45),
        ("en dos semanas", 14),
        ("en dieciocho días", 18),
        ("in fourteen days", 14),
        (
            "Ana from Rolling Pin, €9,000 a year, we want it within five weeks",
            35,
        ),  # the budget's year is no timeframe
        ("25 mil pesos al mes y lo queremos en tres semanas", 21),
        ("we're in a three year contract that ends in 6 months", 180),
        ("cuando venza el contrato, dentro de ocho meses", 240),
        ("para el mes que entra", 30),
        ("esta misma semana", 7),
        ("lo necesitamos ya mismo", 7),
        ("lo antes posible, por favor", 7),
        ("ahora mismo, este mes", 7),
        ("as soon as you can, really", 7),
        ("en cuanto podamos", 7),
        ("by the end of the week", 7),
        ("not this year, probably next", 365),
        ("este mes no, el que viene", 30),
        ("sin prisa, quizá el año que viene", 365),  # a hedged timeframe still counts (a cold one)
        ("not sure, maybe around the 20th of April", 33),
    ],
)
def test_a_duration_or_urgency(text: str, days: int | None) -> None:
    assert parse_timeline_days(text, today=TODAY) == days


@pytest.mark.parametrize(
    "text",
    [
        "no purchase planned for now",
        "honestly I don't know yet",
        "no rush at all",
        "sin prisa",
        "no sé",
        "no tenemos previsto comprar",
        "ya tenemos un CRM",  # "ya" is not "ya mismo"
        "we need 24/7 support",
    ],
)
def test_no_timeframe_is_unknown(text: str) -> None:
    assert parse_timeline_days(text, today=TODAY) is None


def test_the_start_of_a_month_is_its_first_days_not_the_1st() -> None:
    early_december = date(2026, 12, 2)
    # a month ahead is not "needed now" (the policy's hot ends at 30 days); its own first days still are
    assert parse_timeline_days("early January would be good", early_december) == 34
    assert parse_timeline_days("para comienzos de diciembre", early_december) == 3
    assert parse_timeline_days("para comienzos de diciembre", date(2026, 12, 9)) == 361  # past: next year's


def test_today_is_the_visitors_today() -> None:
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):  # 25 hours apart: often different dates
        assert today_in(zone) == datetime.now(ZoneInfo(zone)).date()
    assert today_in("Not/A_Zone") == date.today()
    assert today_in(None) == date.today()
    visitor_today = today_in("Pacific/Kiritimati")
    end_of_month = date(visitor_today.year + visitor_today.month // 12, visitor_today.month % 12 + 1, 1)
    days = parse_timeline_days("before the month is out", tz_name="Pacific/Kiritimati")
    assert days == max((end_of_month - visitor_today).days - 1, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm at Acme and we need it by the end of May", True),
        ("somos 12 y lo queremos a finales de mayo", True),
        ("our licence renews in six weeks", True),
        ("we want it ya mismo", True),
        ("we'd want it up and running by Black Friday", True),
        ("lo queremos para el 5 de mayo", True),
        ("we have 3 sales reps", False),
        ("we're now 40 people and today we use spreadsheets", False),
        ("May Chen here, from Acme", False),
        ("about $12k a year", False),
        ("ya tenemos un CRM", False),
    ],
)
def test_a_timeframe_inside_a_longer_message(text: str, expected: bool) -> None:
    assert mentions_timeline(text, today=TODAY) is expected


@pytest.mark.parametrize(
    ("text", "days"),
    [("somewhere between two and three months", 60), ("en 2-3 semanas", 14), ("one or two weeks", 7)],
)
def test_a_range_of_periods_counts_from_its_earlier_end(text: str, days: int) -> None:
    assert parse_timeline_days(text, today=date(2026, 12, 1)) == days


@pytest.mark.parametrize(
    ("text", "days"), [("roughly seven weeks from now", 49), ("en tres meses a partir de ahora", 90)]
)
def test_from_now_counts_from_today_it_is_not_now(text: str, days: int) -> None:
    assert parse_timeline_days(text, today=date(2026, 12, 1)) == days


@pytest.mark.parametrize(
    ("text", "days"), [("en unas tres semanitas", 21), ("en un mesecito", 30), ("en unos cinco diítas", 5)]
)
def test_the_diminutives_of_speech_are_periods_too(text: str, days: int) -> None:
    assert parse_timeline_days(text, today=date(2026, 12, 1)) == days


def test_a_wished_meeting_time_is_a_span_in_the_visitors_zone_never_in_the_past() -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from crm_core.understanding import wished_time

    madrid = ZoneInfo("Europe/Madrid")
    now = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # Tuesday 12:00 in Madrid
    afternoon = wished_time("thursday afternoon", now, "en", "Europe/Madrid")
    assert afternoon is not None and afternoon[0] == datetime(2026, 12, 3, 12, tzinfo=madrid)
    assert afternoon[1] > afternoon[0] + timedelta(hours=4)
    # said on a Tuesday after 10: next Tuesday at 10, neither today's past 10:00 nor tonight's 22:00
    assert wished_time("el martes a las 10", now, "es", "Europe/Madrid") == (
        datetime(2026, 12, 8, 10, tzinfo=madrid),
        datetime(2026, 12, 8, 11, tzinfo=madrid),
    )
    assert wished_time("no idea, sorry", now, "en", "Europe/Madrid") is None
