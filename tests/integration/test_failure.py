"""Failure opens to people: the action server stops mid-conversation, against the real stack.

The visitor gets a clear message offering a person (rasa_channels/failsafe.py) instead of silence, and the
transcript copier leaves the conversation waiting for a person in the CRM, where a rep can take it over.
The test stops the action server for good. A locked CRM database no longer fails a turn (the capture is
kept and written later): that, and the action server and Rasa killed and restarted, are tests/faults/.
"""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from crm_core.chats import ownership
from crm_core.db import unit_of_work
from crm_core.models import Owner
from rasa_channels.wording import KEPT, OFFER
from tests.accessibility import serious_violations
from tests.browser import headless_chromium
from tests.harness import Stack, running_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("failure-stack"), follow_transcripts=True) as stack:
        yield stack


def texts(replies: list[dict[str, Any]]) -> list[str]:
    return [str(reply.get("text") or "") for reply in replies]


def eventually(check: Callable[[], Any], what: str, stack: Stack, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} never happened\n{stack.log_tail()}")


def owner(stack: Stack, sender: str) -> Owner | None:
    try:
        with unit_of_work(stack.crm_url) as session:
            return ownership.current(session, sender).owner
    except Exception:  # not copied yet (NotFound), or the database is still locked
        return None


def test_the_action_server_stopping_mid_conversation_offers_a_person_on_the_widget_and_over_rest(
    stack: Stack,
) -> None:
    with headless_chromium() as browser:
        run_widget_conversation(stack, browser)


def run_widget_conversation(stack: Stack, browser: Browser) -> None:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(stack.web_url)
    page.get_by_role("button", name="Chat with us").click()
    bot = page.locator(".ew-log .ew-bot")

    def send(text: str) -> None:
        before = bot.count()
        page.fill("#ew-input", text)
        page.press("#ew-input", "Enter")
        expect(bot).not_to_have_count(before, timeout=20_000)

    send("hello!")
    send("a helpdesk bot for our online store")
    expect(bot.last).to_contain_text("budget")
    rest_sender = "rest-visitor"
    assert stack.say(rest_sender, "hello!")

    stack.processes["actions"].terminate()
    stack.processes["actions"].wait(timeout=20)

    send("we could spend 12 thousand euros")
    expect(bot.last).to_have_text(OFFER["en"])
    status = page.get_by_role("status")
    expect(status).to_contain_text("Waiting for a person from our team")
    assert serious_violations(page) == []
    send("you can reach me at marta@lakeshore.example")
    expect(bot.last).to_have_text(KEPT["en"])  # the visitor is thanked, not asked again

    session_id = page.evaluate("window.EmbudoWidget.sessionId")
    assert eventually(lambda: owner(stack, session_id) is Owner.WAITING, "waiting for a person", stack)
    events = stack.tracker(session_id)["events"]
    said = [e["text"] for e in events if e["event"] == "user"]
    assert said[-1] == "you can reach me at marta@lakeshore.example"  # kept in the conversation

    # The REST channel (the Telegram gateway's) answers the same way.
    assert texts(stack.say(rest_sender, "a chatbot for my shop")) == [OFFER["en"]]
    page.reload()  # the state survives a reload, like the history
    expect(page.get_by_role("status")).to_contain_text("Waiting for a person from our team")
