"""The rep's daily work in headless Chromium: the pipeline board from the keyboard (a move, and a refused
move whose reason appears on the card), lead lists whose filters live in the URL, deals typed, edited and
deleted in a Spanish console, and every page at 390 px wide."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from crm_core.db import unit_of_work
from crm_core.models import Lead, Stage
from crm_core.sales.deals import list_deals, open_deal
from crm_core.schemas import NewDeal
from tests.browser import headless_chromium
from tests.console import ADMIN, PASSWORD, ROSA, Seeded, console_server, seed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as browser:
        yield browser


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    return seed(db_url)


@pytest.fixture
def web(db_url: str, seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    with console_server(db_url, tmp_path / "web.log") as url:
        yield url


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()


REFUSED_PAGE = (
    "Failed to load resource: the server responded with a status of 4"  # a refusal's page: 409 / 422
)


def watch_errors(page: Page) -> list[str]:
    """Script errors and console errors on the page (not Chromium's note that a refusal answered 4xx)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith(REFUSED_PAGE)
            else None
        ),
    )
    return problems


def test_a_rep_moves_a_card_from_the_keyboard_and_sees_a_refused_move_on_the_card(
    browser: Browser, web: str, seeded: Seeded, db_url: str
) -> None:
    with unit_of_work(db_url) as session:
        open_deal(session, seeded.rosa_lead, NewDeal(title="Pilot", value=Decimal(9000), currency="EUR"))
    page = browser.new_context().new_page()
    problems = watch_errors(page)
    sign_in(page, web, ROSA)
    page.get_by_role("link", name="Board").click()
    expect(page.get_by_role("heading", name="Pipeline board")).to_be_visible()
    sql = page.get_by_role("region", name="sql")
    card = sql.get_by_role("listitem").filter(has_text=f"#{seeded.rosa_lead} Marta")
    expect(card).to_contain_text("Rosa Diaz")
    expect(card).to_contain_text("SQL")
    expect(page.get_by_text("Tomas Berg")).to_have_count(0)  # Ben's lead is not on Rosa's board

    card.get_by_label(f"Move #{seeded.rosa_lead} to").focus()
    page.keyboard.type("proposal")  # a focused select picks the option typed
    page.keyboard.press("Tab")
    expect(card.get_by_role("button", name="Move")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"Lead {seeded.rosa_lead} moved from sql to proposal.")
    moved = page.get_by_role("region", name="proposal").get_by_role("listitem")
    expect(moved).to_contain_text(f"#{seeded.rosa_lead} Marta")
    expect(page.get_by_role("region", name="sql").get_by_role("listitem")).to_have_count(0)

    moved.get_by_label(f"Move #{seeded.rosa_lead} to").select_option("won")
    moved.get_by_role("button", name="Move").click()
    refusal = page.get_by_role("region", name="proposal").get_by_role("alert")
    expect(refusal).to_contain_text(f"Lead {seeded.rosa_lead} still has open deals")
    expect(refusal).to_contain_text("'Pilot'")
    expect(page.get_by_role("region", name="won").get_by_role("listitem")).to_have_count(0)
    assert problems == []
    with unit_of_work(db_url) as session:
        lead = session.get(Lead, seeded.rosa_lead)
        assert lead is not None and lead.stage is Stage.PROPOSAL


def test_lead_list_filters_sort_and_search_live_in_the_url(
    browser: Browser, web: str, seeded: Seeded
) -> None:
    page = browser.new_context().new_page()
    problems = watch_errors(page)
    sign_in(page, web, ADMIN)
    page.get_by_role("link", name="Leads", exact=True).click()
    rows = page.locator("table.leads tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Search").fill("fjord")
    page.get_by_label("Class").select_option("sql")
    page.get_by_label("Rep").select_option(label="Ben Okafor")
    page.get_by_label("Sort").select_option("name")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Tomas Berg")
    assert page.url.endswith(f"/console/leads?q=fjord&class=sql&rep={seeded.ben_rep_id}&sort=name")

    page.reload()  # the view is the URL: the same leads, the same form
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Search")).to_have_value("fjord")
    expect(page.get_by_label("Rep")).to_have_value(str(seeded.ben_rep_id))

    page.goto(f"{web}/console/leads?q=marta&temp=boiling")
    temperature = page.get_by_label("Temperature")
    expect(temperature).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-temp")).to_have_text(
        "Unknown temperature 'boiling': use one of hot, warm, cold."
    )
    expect(page.get_by_label("Search")).to_have_value("marta")  # nothing typed is lost
    page.get_by_label("Temperature").select_option("hot")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Marta")
    assert problems == []


def test_deals_are_typed_edited_and_deleted_in_the_viewers_locale(
    browser: Browser, web: str, seeded: Seeded, db_url: str
) -> None:
    page = browser.new_context(locale="es-ES").new_page()
    problems = watch_errors(page)
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, web, ROSA)
    page.goto(f"{web}/console/leads/{seeded.rosa_lead}")
    deals = page.get_by_role("region", name="Deals")
    deals.get_by_label("Title").fill("Piloto")
    deals.get_by_label("Value").fill("12.000")
    deals.get_by_label("Currency").fill("EURO")
    deals.get_by_role("button", name="Open deal").click()
    currency = page.get_by_role("region", name="Deals").get_by_label("Currency")
    expect(currency).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-deal-currency")).to_contain_text("'EURO' is not a currency code")
    expect(page.get_by_role("region", name="Deals").get_by_label("Value")).to_have_value("12.000")  # kept

    page.get_by_role("region", name="Deals").get_by_label("Currency").fill("EUR")
    page.get_by_role("region", name="Deals").get_by_role("button", name="Open deal").click()
    expect(page.get_by_role("status")).to_contain_text("Deal 'Piloto' opened: 12.000,00 EUR.")
    with unit_of_work(db_url) as session:
        [deal] = list_deals(session, seeded.rosa_lead)
        assert deal.value == Decimal("12000.00")

    page.get_by_text("Edit or delete “Piloto”").click()
    editing = page.get_by_role("form", name=f"Edit deal {deal.id}")
    expect(editing.get_by_label("Value")).to_have_value("12.000,00")
    editing.get_by_label("Value").fill("15.500,5")
    editing.get_by_role("button", name="Save deal").click()
    expect(page.get_by_role("status")).to_contain_text("Deal 'Piloto' saved: 15.500,50 EUR.")
    expect(page.locator("table.deals")).to_contain_text("15.500,50 EUR")

    page.get_by_text("Edit or delete “Piloto”").click()
    page.get_by_role("form", name=f"Edit deal {deal.id}").get_by_label("Value").fill("quince")
    page.get_by_role("form", name=f"Edit deal {deal.id}").get_by_role("button", name="Save deal").click()
    expect(page.locator(f"#error-deal-{deal.id}-value")).to_contain_text("'quince' is not an amount")

    page.get_by_role("button", name="Delete deal").click()
    expect(page.get_by_role("status")).to_contain_text("Deal 'Piloto' deleted.")
    expect(page.get_by_role("region", name="Deals")).to_contain_text("No deal yet.")
    assert problems == []


def _fits_390(page: Page, path: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{path} is wider than the screen"
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_in_viewport()
    box = sign_out.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, path


def test_every_page_fits_a_390_px_phone_with_sign_out_on_screen(
    browser: Browser, web: str, seeded: Seeded
) -> None:
    for who, paths in (
        (
            ADMIN,
            [
                "/console/inbox",
                "/console/board",
                "/console/leads",
                f"/console/leads/{seeded.ben_lead}",
                f"/console/transcripts/{seeded.ben_sender}",
                "/console/account",
                "/console/admin/transcripts",
                "/console/admin/reps",
                "/console/admin/policy",
                "/console/admin/privacy",
                "/console/kpis",
            ],
        ),
        (ROSA, ["/console/inbox", "/console/board", "/console/leads", f"/console/leads/{seeded.rosa_lead}"]),
    ):
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        problems = watch_errors(page)
        sign_in(page, web, who)
        for path in paths:
            page.goto(f"{web}{path}")
            _fits_390(page, path)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert problems == []


def test_a_rep_adds_a_task_sees_it_due_in_the_inbox_and_marks_it_done(
    browser: Browser, web: str, seeded: Seeded, db_url: str
) -> None:
    page = browser.new_context().new_page()
    problems = watch_errors(page)
    sign_in(page, web, ROSA)
    page.goto(f"{web}/console/leads/{seeded.rosa_lead}")
    notes = page.get_by_role("region", name="Notes and activities")
    notes.get_by_label("Kind").select_option("call")
    notes.get_by_label("Due").fill("2026-01-05T09:30")  # in the past: overdue at once
    notes.get_by_label("Text").fill("call Marta about the pilot")
    notes.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_contain_text("Call added.")

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Inbox").click()
    tasks = page.get_by_role("region", name="Your tasks")
    expect(tasks.get_by_role("listitem")).to_have_count(1)
    expect(tasks.get_by_role("listitem")).to_contain_text("overdue")
    expect(tasks.get_by_role("listitem")).to_contain_text("2026-01-05 09:30 CET")  # Rosa's zone
    expect(tasks.get_by_role("listitem")).to_contain_text("call Marta about the pilot")
    tasks.get_by_role("button", name="Done").click()
    expect(page.get_by_role("status")).to_contain_text("Task done: call Marta about the pilot")
    expect(page.get_by_role("region", name="Your tasks")).to_contain_text("No open tasks.")
    page.goto(f"{web}/console/leads/{seeded.rosa_lead}")
    expect(page.get_by_role("region", name="Notes and activities")).to_contain_text("· done ")
    assert problems == []
