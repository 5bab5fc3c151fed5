"""Reading the visitor's answer to "which time zone are you in?" (``actions.visitor_zone``)."""

from zoneinfo import ZoneInfo

import pytest

from actions.visitor_zone import choices, read_time_zone, zone_label


@pytest.mark.parametrize(
    ("answer", "zone"),
    [
        ("Madrid", "Europe/Madrid"),
        ("we're in madrid, spain", "Europe/Madrid"),
        ("Ciudad de México", "America/Mexico_City"),
        ("ciudad de mexico", "America/Mexico_City"),
        ("new york", "America/New_York"),
        ("Nueva York", "America/New_York"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
        ("estoy en Bogotá", "America/Bogota"),
        ("Perú", "America/Lima"),
        ("London, UK", "Europe/London"),
        ("Londres", "Europe/London"),
        ("tenerife", "Atlantic/Canary"),
        ("Europe/Lisbon", "Europe/Lisbon"),
        ("europe/lisbon please", "Europe/Lisbon"),
        ("America/Argentina/Cordoba", "America/Argentina/Cordoba"),
        ("Tokyo", "Asia/Tokyo"),
        ("UTC-5", "Etc/GMT+5"),
        ("utc -5", "Etc/GMT+5"),
        ("GMT+1", "Etc/GMT-1"),
        ("GMT+05:00", "Etc/GMT-5"),
        ("UTC\u22123", "Etc/GMT+3"),
        ("UTC", "UTC"),
        ("gmt+0", "UTC"),
    ],
)
def test_cities_countries_iana_names_and_offsets_are_read(answer: str, zone: str) -> None:
    assert read_time_zone(answer) == zone
    ZoneInfo(zone)  # a real zone


@pytest.mark.parametrize(
    "answer",
    [
        "somewhere nice",
        "",
        "the United States",  # several zones: a city, please
        "UTC 5",  # which way?
        "UTC+15",
        "we met at Easter",  # zone cities that are words too are not read from a sentence
        "Europe",
    ],
)
def test_what_names_no_single_zone_is_not_read(answer: str) -> None:
    assert read_time_zone(answer) is None


def test_offsets_are_named_as_the_visitor_wrote_them() -> None:
    assert zone_label("Etc/GMT+5") == "UTC-5" and zone_label("Etc/GMT-1") == "UTC+1"
    assert zone_label("Europe/Madrid") == "Europe/Madrid"


def test_the_buttons_offer_the_reps_city_first_then_the_languages_common_places() -> None:
    assert choices("Europe/Madrid", "es") == [
        ("Madrid", "Europe/Madrid"),
        ("Ciudad de México", "America/Mexico_City"),
        ("Bogotá", "America/Bogota"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
    ]
    assert choices("America/Mexico_City", "es")[0] == ("Ciudad de México", "America/Mexico_City")
    assert choices("Europe/Madrid", "en") == [
        ("Madrid", "Europe/Madrid"),
        ("New York", "America/New_York"),
        ("London", "Europe/London"),
        ("Los Angeles", "America/Los_Angeles"),
    ]
