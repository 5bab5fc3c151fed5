"""Slot finding (``crm_core.scheduling.slots``): working hours in the rep's time zone, DST changes, spans across
midnight, away dates, other meetings, the lead time, and the nearest slot to a wish."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from crm_core.scheduling.slots import Calendar, SlotRules, all_free, nearest, offer

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
RULES = SlotRules(length=timedelta(minutes=30), step=timedelta(minutes=30), lead_time=timedelta(hours=2))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def test_slots_lie_in_the_reps_hours_in_the_reps_zone_and_respect_the_lead_time() -> None:
    ana = Calendar("Europe/Madrid", {"mon": ["09:00", "11:00"]})
    now = local(MADRID, 2026, 12, 7, 8, 0)  # Monday 08:00 in Madrid: 10:00 is the first allowed
    starts = list(all_free(ana, now, RULES))
    assert starts[:3] == [local(MADRID, 2026, 12, 7, 10, 0), local(MADRID, 2026, 12, 7, 10, 30),
                          local(MADRID, 2026, 12, 14, 9, 0)]  # fmt: skip
    assert all(s.astimezone(MADRID).weekday() == 0 for s in starts)
    assert all(s.astimezone(MADRID).hour in (9, 10) for s in starts)


def test_an_offer_spans_days_and_other_times_continue_after_it() -> None:
    ben = Calendar("America/New_York", {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")})
    now = local(NEW_YORK, 2026, 12, 1, 7, 0)  # Tuesday
    first = offer(ben, now, RULES)
    assert first == [local(NEW_YORK, 2026, 12, 1, 9, 0), local(NEW_YORK, 2026, 12, 1, 9, 30),
                     local(NEW_YORK, 2026, 12, 2, 9, 0), local(NEW_YORK, 2026, 12, 2, 9, 30)]  # fmt: skip
    more = offer(ben, now, RULES, after=first[-1])
    assert more[0] == local(NEW_YORK, 2026, 12, 2, 10, 0) and more[0] not in first


def test_hours_keep_to_the_wall_clock_across_the_dst_change() -> None:
    ana = Calendar("Europe/Madrid", {"fri": ["09:00", "09:30"], "mon": ["09:00", "09:30"]})
    now = utc(2026, 3, 26, 0, 0)  # Madrid moves to summer time on Sunday 29 March 2026
    friday, monday = list(all_free(ana, now, RULES))[:2]
    assert friday == utc(2026, 3, 27, 8, 0) and monday == utc(2026, 3, 30, 7, 0)  # 09:00 local both days


def test_a_wall_time_the_spring_change_skips_is_never_offered() -> None:
    night = Calendar("Europe/Madrid", {"sun": ["01:00", "04:00"]})
    starts = [s for s in all_free(night, utc(2026, 3, 28, 0, 0), RULES) if s < utc(2026, 3, 30)]
    walls = [s.astimezone(MADRID).strftime("%H:%M") for s in starts]
    assert walls == ["01:00", "01:30", "03:00", "03:30"]  # 02:00-03:00 does not exist that night
    assert starts[2] - starts[1] == RULES.length  # 01:30 is 30 real minutes before 03:00


def test_hours_across_midnight_belong_to_the_day_they_start() -> None:
    late = Calendar("UTC", {"fri": ["23:00", "01:00"]})
    now = utc(2026, 12, 3, 0, 0)  # Thursday
    assert list(all_free(late, now, RULES))[:4] == [
        utc(2026, 12, 4, 23, 0), utc(2026, 12, 4, 23, 30), utc(2026, 12, 5, 0, 0), utc(2026, 12, 5, 0, 30)
    ]  # fmt: skip
    # Saturday 00:30 is Friday's span, even when "now" is already Saturday
    assert next(all_free(late, utc(2026, 12, 4, 22, 0), RULES)) == utc(2026, 12, 5, 0, 0)


def test_no_slot_while_the_rep_is_away() -> None:
    away = Calendar("UTC", {"mon": ["09:00", "10:00"], "tue": ["09:00", "10:00"]}, utc(2026, 12, 8, 0, 0))
    assert next(all_free(away, utc(2026, 12, 6, 0, 0), RULES)) == utc(2026, 12, 8, 9, 0)  # not Monday 7th


def test_no_slot_overlaps_another_meeting() -> None:
    busy = [(utc(2026, 12, 7, 9, 15), utc(2026, 12, 7, 9, 45))]  # overlaps 09:00 and 09:30
    cal = Calendar("UTC", {"mon": ["09:00", "11:00"]}, busy=busy)
    assert list(all_free(cal, utc(2026, 12, 6, 0, 0), RULES))[:2] == [
        utc(2026, 12, 7, 10),
        utc(2026, 12, 7, 10, 30),
    ]
    touching = Calendar("UTC", {"mon": ["09:00", "10:00"]}, busy=[(utc(2026, 12, 7, 8), utc(2026, 12, 7, 9))])
    assert next(all_free(touching, utc(2026, 12, 6, 0, 0), RULES)) == utc(
        2026, 12, 7, 9
    )  # back to back is fine


def test_longer_meetings_fit_inside_the_span() -> None:
    hour = SlotRules(length=timedelta(hours=1), step=timedelta(minutes=30), lead_time=timedelta(0))
    cal = Calendar("UTC", {"mon": ["09:00", "10:30"]})
    assert list(all_free(cal, utc(2026, 12, 6), hour))[:2] == [utc(2026, 12, 7, 9), utc(2026, 12, 7, 9, 30)]


def test_a_rep_without_hours_gets_office_hours_for_meetings() -> None:
    starts = list(all_free(Calendar("UTC", {}), utc(2026, 12, 5, 0, 0), RULES))  # a Saturday
    assert starts[0] == utc(2026, 12, 7, 9, 0) and all(s.weekday() < 5 and 9 <= s.hour < 17 for s in starts)


def test_the_nearest_slot_to_a_wish_or_why_not() -> None:
    cal = Calendar("UTC", {"thu": ["09:00", "17:00"]}, busy=[(utc(2026, 12, 3, 14), utc(2026, 12, 3, 15))])
    now = utc(2026, 12, 1, 9)
    afternoon = nearest(cal, now, RULES, utc(2026, 12, 3, 14), utc(2026, 12, 3, 17))
    assert afternoon.start == utc(2026, 12, 3, 15) and afternoon.exact
    at_ten = nearest(cal, now, RULES, utc(2026, 12, 3, 10), utc(2026, 12, 3, 10, 30))
    assert at_ten.start == utc(2026, 12, 3, 10) and at_ten.exact
    evening = nearest(cal, now, RULES, utc(2026, 12, 3, 20), utc(2026, 12, 3, 21))
    assert evening.start == utc(2026, 12, 3, 16, 30) and not evening.exact  # the last slot that day
    beyond = nearest(cal, now, RULES, utc(2027, 6, 1, 10), utc(2027, 6, 1, 11))
    assert beyond.start is not None and not beyond.exact
    never = nearest(Calendar("UTC", {"thu": ["09:00", "09:30"]}, away_until=utc(2027, 1, 1)), now, RULES,
                    utc(2026, 12, 3, 9), utc(2026, 12, 3, 10))  # fmt: skip
    assert never.start is None
