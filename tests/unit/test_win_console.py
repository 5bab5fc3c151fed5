"""The console's lead page shows the learned win probability with its factors, or says why there is none:
too few outcomes (the sentence the trainer refuses with), or a closed lead, which is never scored."""

from pathlib import Path

from sqlalchemy import select

from crm_core.db import unit_of_work
from crm_core.learning.win_training import train_win_model
from crm_core.models import Lead, Stage
from tests.console import ADMIN, ROSA, console_server, seed, signed_in
from tests.unit.win_history import add_closed_leads, history


def test_the_lead_page_shows_the_win_probability_or_why_there_is_none(db_url: str, tmp_path: Path) -> None:
    seeded = seed(db_url)
    lead = f"/console/leads/{seeded.rosa_lead}"
    past = history(300)
    with unit_of_work(db_url) as session:
        add_closed_leads(session, past[:100])
    with console_server(db_url, tmp_path / "web.log") as url:
        rosa = signed_in(url, ROSA)
        page = rosa.get(lead).text
        won = sum(p.won for p in past[:100])
        assert "Learned win probability" in page
        assert (
            f"None yet. Not enough closed leads to learn from: 100 closed, {won} won; "
            "need 200 with at least 30 won."
        ) in page
        with unit_of_work(db_url) as session:
            add_closed_leads(session, past[100:])
            train_win_model(session)
        page = rosa.get(lead).text
        assert "model version 1" in page and "the score above stays the policy" in page
        assert "authority: decision maker" in page and ">for<" in page
        assert "score <strong>" in page  # the policy's score, shown as before
        with unit_of_work(db_url) as session:
            closed = session.scalars(select(Lead.id).where(Lead.stage == Stage.LOST).limit(1)).one()
        page = signed_in(url, ADMIN).get(f"/console/leads/{closed}").text
        assert "None: the lead is lost, and closed leads are not scored." in page
