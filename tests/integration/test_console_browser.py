"""The console in a real browser (headless Chromium): a rep signs in, accepts a lead and moves it to proposal."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect

from crm_core.db import unit_of_work
from crm_core.models import Lead, Stage
from tests.browser import headless_chromium
from tests.console import PASSWORD, ROSA, Seeded, console_server, seed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as browser:
        yield browser


def test_a_rep_signs_in_accepts_a_lead_and_moves_it_to_proposal(
    browser: Browser, db_url: str, tmp_path: Path
) -> None:
    seeded: Seeded = seed(db_url)
    with console_server(db_url, tmp_path / "web.log") as url:
        page = browser.new_context().new_page()
        problems: list[str] = []
        dialogs: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

        def answer(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", answer)

        page.goto(f"{url}/console")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("E-mail").fill(ROSA)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
        waiting = page.get_by_role("region", name="Waiting for you to accept")
        waiting.get_by_role("link", name=f"#{seeded.rosa_lead} Marta").click()

        expect(page.get_by_role("heading", name="This lead waits for you")).to_be_visible()
        page.get_by_role("button", name="Pass").click()  # asks first; dismissed, nothing happens
        expect(page.get_by_role("heading", name="This lead waits for you")).to_be_visible()
        assert dialogs == [f"Pass lead #{seeded.rosa_lead} to the next rep?"]

        page.get_by_role("button", name="Accept").click()
        expect(page.get_by_role("status")).to_contain_text(f"Lead {seeded.rosa_lead} is yours: accepted.")
        expect(page.get_by_role("heading", name="This lead waits for you")).to_have_count(0)

        page.get_by_label("Move to").select_option("proposal")
        page.get_by_label("Reason").fill("sent the quote")
        page.get_by_role("button", name="Move", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Moved from sql to proposal.")
        expect(page.get_by_test_id("stage")).to_have_text("stage proposal")
        expect(page.locator("ol.history li").last).to_contain_text("sql → proposal (sent the quote)")

        # the visitor's words are on the page as text; their <script> never ran
        transcript = page.get_by_role("region", name="Conversation transcript")
        expect(transcript).to_contain_text("We sell bikes <script>alert('pwned')</script><b>bold</b>")
        expect(transcript.locator("b")).to_have_count(0)
        page.reload()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("You are signed out.")
        page.goto(f"{url}/console/leads/{seeded.rosa_lead}")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

        assert dialogs == [f"Pass lead #{seeded.rosa_lead} to the next rep?"]  # no alert('pwned')
        assert problems == []

    with unit_of_work(db_url) as session:
        lead = session.get(Lead, seeded.rosa_lead)
        assert lead is not None and lead.stage is Stage.PROPOSAL and lead.accepted_at is not None
