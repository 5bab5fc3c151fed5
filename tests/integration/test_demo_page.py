"""The demo page in a real browser: its chat box qualifies a visitor through the real stack."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from crm_core.db import unit_of_work
from crm_core.leads import list_leads
from crm_core.models import Qualification
from tests.browser import headless_chromium
from tests.harness import Stack, running_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("web-stack")) as stack:
        yield stack


@pytest.fixture
def page(stack: Stack, tmp_path: Path) -> Iterator[Page]:
    with headless_chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(stack.web_url)
        yield page
        assert errors == [], errors


def send(page: Page, text: str, expect_reply: str) -> None:
    replies_before = page.locator("#messages li.bot").count()
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    expect(page.locator("#messages li.bot")).not_to_have_count(replies_before)
    expect(page.locator("#messages li.bot").last).to_contain_text(expect_reply)


def test_a_visitor_qualifies_through_the_chat_box(stack: Stack, page: Page) -> None:
    send(page, "hello!", "What are you looking for")
    send(page, "a helpdesk bot for our online store", "budget")
    send(page, "we could spend 12 thousand euros", "role")
    send(page, "I own the business", "When")
    send(page, "in about a month", "company")
    send(page, "Lakeshore Cycles", "name")
    send(page, "Marta Nowak", "e-mail")
    send(page, "marta@lakeshore.example", "May we contact you")
    page.get_by_role("button", name="Yes, please").click()
    expect(page.locator("#messages li.bot").last).to_contain_text("will contact you")
    expect(page.locator("#messages li.user").last).to_have_text("Yes, please")

    with unit_of_work(stack.crm_url) as session:
        [lead] = [lead for lead in list_leads(session) if lead.email == "marta@lakeshore.example"]
    assert lead.qualification is Qualification.SQL
    assert lead.channel == "rest" and lead.conversation_id and lead.conversation_id.startswith("web-")


def test_the_page_says_so_when_rasa_is_unreachable(stack: Stack, page: Page) -> None:
    page.route(f"{stack.rasa_url}/**", lambda route: route.abort())
    page.fill("#chat-input", "hi")
    page.press("#chat-input", "Enter")
    expect(page.locator("#messages li.error")).to_contain_text("not reachable")
    expect(page.locator("#messages li.user")).to_have_text("hi")
