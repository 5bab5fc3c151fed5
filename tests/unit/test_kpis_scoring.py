"""Conversion by score band and temperature on a known set of leads: the KPI function, `embudo kpis` and
the console's KPI page.

The set (all created 2026-11-10 unless said; won / lost as listed):
    score 85 hot: 3 won, 1 lost · score 100 hot: 1 won          → 80–100 4 of 5, hot 4 of 5
    score 45 warm: 1 won, 3 lost · score 20 warm: 1 lost        → 40–59 1 of 4, 20–39 0 of 1, warm 1 of 5
    score 10 cold: 2 lost · score 19 cold: 1 won                → 0–19 1 of 3, cold 1 of 3
    not counted: an open SQL lead scoring 90 (hot), and a won lead created 2026-10-01 (before the period)
"""

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.db import unit_of_work
from crm_core.models import Lead, Stage, Temperature, score_band
from crm_core.reporting.kpis_scoring import BANDS, ConversionRow, conversion_by_score
from tests.console import ADMIN, console_server, seed, signed_in
from tests.unit.test_cli import EMBUDO
from tests.unit.test_console_kpis import cells
from tests.unit.test_policy_suggestions import closed_lead

CREATED = datetime(2026, 11, 10, 9, tzinfo=UTC)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)


def known_set(session: Session) -> None:
    for score, temperature, won, lost in (
        (85, Temperature.HOT, 3, 1),
        (100, Temperature.HOT, 1, 0),
        (45, Temperature.WARM, 1, 3),
        (20, Temperature.WARM, 0, 1),
        (10, Temperature.COLD, 0, 2),
        (19, Temperature.COLD, 1, 0),
    ):
        for outcome in [True] * won + [False] * lost:
            closed_lead(session, outcome, score=score, temperature=temperature, created_at=CREATED)
    closed_lead(
        session, True, score=30, temperature=Temperature.COLD, created_at=datetime(2026, 10, 1, tzinfo=UTC)
    )
    session.flush()


def rows(report: list[ConversionRow]) -> list[tuple[str, int, int]]:
    return [(r.label, r.closed, r.won) for r in report]


def test_closed_leads_win_rate_per_band_and_temperature(session: Session) -> None:
    known_set(session)
    closed_lead(session, True, score=90, temperature=Temperature.HOT, created_at=CREATED)
    session.flush()
    still_open = session.scalars(select(Lead).where(Lead.score == 90)).one()
    still_open.stage = Stage.SQL  # not an outcome yet
    session.flush()

    report = conversion_by_score(session, since=SINCE)
    assert rows(report.by_score) == [
        ("0–19", 3, 1),
        ("20–39", 1, 0),
        ("40–59", 4, 1),
        ("60–79", 0, 0),
        ("80–100", 5, 4),
    ]
    assert [r.win_rate for r in report.by_score] == [1 / 3, 0.0, 0.25, None, 0.8]
    assert rows(report.by_temperature) == [("hot", 5, 4), ("warm", 5, 1), ("cold", 3, 1)]
    everything = conversion_by_score(session)  # no period: the October lead (score 30, cold) counts too
    assert rows(everything.by_score)[1] == ("20–39", 2, 1)
    assert rows(everything.by_temperature)[2] == ("cold", 4, 2)


def test_a_period_that_starts_or_ends_inside_a_day_counts_that_part_from_the_leads(session: Session) -> None:
    # whole days come from the daily outcome tallies, the rest of a day at either end from the leads
    known_set(session)
    day = datetime(2026, 11, 10, tzinfo=UTC)
    inside = conversion_by_score(session, since=day.replace(hour=8), until=day.replace(hour=10))
    assert rows(inside.by_temperature) == [("hot", 5, 4), ("warm", 5, 1), ("cold", 3, 1)]
    after = conversion_by_score(session, since=day.replace(hour=9, minute=30), until=day.replace(hour=23))
    assert rows(after.by_temperature) == [("hot", 0, 0), ("warm", 0, 0), ("cold", 0, 0)]
    across = conversion_by_score(
        session, since=datetime(2026, 9, 30, 12, tzinfo=UTC), until=day.replace(hour=9)
    )
    assert rows(across.by_temperature) == [("hot", 0, 0), ("warm", 0, 0), ("cold", 1, 1)]  # October's lead
    assert rows(conversion_by_score(session, since=day.replace(hour=9)).by_score)[4] == ("80–100", 5, 4)


def test_a_closed_lead_rescored_moves_to_its_new_band_and_temperature(session: Session) -> None:
    known_set(session)
    lead = session.scalars(select(Lead).where(Lead.score == 19)).one()  # the cold won lead, 0–19
    lead.score, lead.temperature = 65, Temperature.WARM
    session.flush()
    report = conversion_by_score(session, since=SINCE)
    assert rows(report.by_score)[0] == ("0–19", 2, 0) and rows(report.by_score)[3] == ("60–79", 1, 1)
    assert rows(report.by_temperature) == [("hot", 5, 4), ("warm", 6, 2), ("cold", 2, 0)]


def test_the_kept_band_of_a_score_is_the_reports_band() -> None:
    for score in range(-5, 110):
        low = next((low for low, high in BANDS if score <= high), BANDS[-1][0])
        assert score_band(score) == low


@pytest.fixture
def web(db_url: str, tmp_path: Path) -> Iterator[str]:
    seed(db_url)  # two open SQL leads: not counted
    with unit_of_work(db_url) as session:
        known_set(session)
    with console_server(db_url, tmp_path / "web.log") as url:
        yield url


def test_the_cli_and_the_kpi_page_show_the_same_conversion(web: str, db_url: str) -> None:
    env = {**os.environ, "EMBUDO_DATABASE_URL": db_url}
    run = subprocess.run(
        [str(EMBUDO), "kpis", "--since", "2026-11-01"], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    by_temperature = next(line for line in lines if line.startswith("  by temperature:"))
    assert by_temperature == "  by temperature: hot 80.0% (4 of 5), warm 20.0% (1 of 5), cold 33.3% (1 of 3)"
    by_score = next(line for line in lines if line.startswith("  by score:"))
    assert "60–79 - (0 of 0), 80–100 80.0% (4 of 5)" in by_score
    board = json.loads(
        subprocess.run(
            [str(EMBUDO), "kpis", "--format", "json"], env=env, capture_output=True, text=True, timeout=60
        ).stdout
    )
    assert board["scoring"]["by_temperature"][2] == {"label": "cold", "closed": 4, "won": 2, "win_rate": 0.5}

    page = signed_in(web, ADMIN).get("/console/kpis", params={"since": "2026-11-01"}).text
    assert "hot 5 4 80.0%" in cells(page, "by-temperature", "hot")
    assert "40–59 4 1 25.0%" in cells(page, "by-score", "40–59")
