"""The chat widget in a real browser (headless Chromium) against the real stack over socket.io."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from crm_core.db import unit_of_work
from crm_core.models import Qualification
from crm_core.sales.leads import list_leads
from tests.browser import headless_chromium
from tests.harness import Stack, running_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("widget-stack")) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as browser:
        yield browser


def new_page(browser: Browser, **context: object) -> tuple[Page, list[str]]:
    page = browser.new_context(**context).new_page()  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def send(page: Page, text: str, expect_reply: str) -> None:
    bot = page.locator(".ew-log .ew-bot")
    before = bot.count()
    page.fill("#ew-input", text)
    page.press("#ew-input", "Enter")
    expect(bot).not_to_have_count(before, timeout=20_000)
    expect(bot.last).to_contain_text(expect_reply, timeout=20_000)


def test_a_visitor_qualifies_through_the_widget_and_a_reload_keeps_the_conversation(
    stack: Stack, browser: Browser
) -> None:
    page, errors = new_page(browser, locale="en-GB")
    page.goto(f"{stack.web_url}/?utm_source=newsletter&utm_campaign=autumn")
    launcher = page.get_by_role("button", name="Chat with us")
    launcher.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator("#ew-input")).to_be_focused()
    expect(page.get_by_role("link", name="privacy policy")).to_have_attribute("href", "/privacy")

    send(page, "hello!", "What are you looking for")
    send(page, "a helpdesk bot for our online store", "budget")
    send(page, "we could spend 12 thousand euros", "role")
    send(page, "I own the business", "When")

    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator(".ew-log .ew-user")).to_have_count(4)
    expect(page.locator(".ew-log .ew-bot").last).to_contain_text("When")
    send(page, "in about a month", "company")  # the server continues the same conversation
    send(page, "Lakeshore Cycles", "name")
    send(page, "Marta Nowak", "e-mail")
    send(page, "marta@lakeshore.example", "May we contact you")
    page.get_by_role("button", name="Yes, please").click()
    expect(page.locator(".ew-log .ew-bot").last).to_contain_text("will contact you", timeout=20_000)
    expect(page.locator(".ew-log .ew-user").last).to_have_text("Yes, please")
    expect(page.get_by_role("button", name="Yes, please")).to_have_count(0)

    session_id = page.evaluate("window.EmbudoWidget.sessionId")
    with unit_of_work(stack.crm_url) as session:
        [lead] = [lead for lead in list_leads(session) if lead.email == "marta@lakeshore.example"]
    assert lead.qualification is Qualification.SQL
    assert (lead.channel, lead.conversation_id) == ("socketio", session_id)
    assert lead.source == "newsletter/autumn"

    first_user_event = next(e for e in stack.tracker(session_id)["events"] if e["event"] == "user")
    metadata = first_user_event["metadata"]
    assert metadata["utm"] == {"source": "newsletter", "campaign": "autumn"}
    assert metadata["page_url"].startswith(stack.web_url)
    assert metadata["locale"] == "en-GB"
    assert errors == []


def test_keyboard_only_use_and_empty_input(stack: Stack, browser: Browser) -> None:
    page, errors = new_page(browser)
    page.goto(stack.web_url)
    launcher = page.get_by_role("button", name="Chat with us")
    for _ in range(5):  # the launcher is reachable with Tab (after the page's own focusable parts)
        page.keyboard.press("Tab")
        if launcher.evaluate("node => node === document.activeElement"):
            break
    expect(launcher).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#ew-input")).to_be_focused()
    page.keyboard.press("Enter")  # nothing typed: nothing is sent
    page.keyboard.type("hey, anybody around?")
    page.keyboard.press("Enter")
    expect(page.locator(".ew-log .ew-bot").last).to_contain_text("What are you looking for", timeout=20_000)
    expect(page.locator(".ew-log .ew-user")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Open chat")).to_be_focused()
    assert errors == []


def test_the_widget_fills_a_phone_screen(stack: Stack, browser: Browser) -> None:
    page, errors = new_page(browser, viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page.goto(stack.web_url)
    page.get_by_role("button", name="Chat with us").click()
    box = page.get_by_role("dialog").bounding_box()
    assert box is not None and box["width"] == 375 and box["height"] == 667
    send(page, "hiya folks", "What are you looking for")
    assert errors == []
