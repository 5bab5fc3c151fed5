"""A rep takes over a live widget conversation through the CRM REST API, against the real stack: the real
Rasa server (paused and resumed with its own events), the action server, the web app and the transcript
copier, with the visitor on the real widget in headless Chromium."""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from websockets.sync.client import connect

from tests.accessibility import serious_violations
from tests.browser import headless_chromium
from tests.harness import Stack, running_stack

pytestmark = pytest.mark.integration

TOKEN = "integration-token"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("takeover-stack")
    with running_stack(workdir, follow_transcripts=True, env={"EMBUDO_API_TOKEN": TOKEN}) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as browser:
        yield browser


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{stack.web_url}/api/v1", headers=headers, timeout=30) as client:
        yield client


def eventually(check: Callable[[], Any], what: str, stack: Stack, timeout: float = 30) -> Any:
    """Wait for something another process does (the transcript copier) — its result, or fail with logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} never happened\n{stack.log_tail()}")


def say(page: Page, text: str) -> None:
    page.fill("#ew-input", text)
    page.press("#ew-input", "Enter")


def lines(api: httpx.Client, sender: str) -> list[tuple[str, int | None, str]]:
    answer = api.get(f"/conversations/{sender}/messages")
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    return [(m["author"], m["rep_id"], m["text"]) for m in answer.json()]


def events_after_last_user_message(stack: Stack, sender: str) -> list[str]:
    events = stack.tracker(sender)["events"]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    return [e["event"] for e in events[last_user + 1 :]]


def test_a_rep_takes_over_the_widget_conversation_and_hands_it_back(
    stack: Stack, browser: Browser, api: httpx.Client
) -> None:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(stack.web_url)
    page.get_by_role("button", name="Chat with us").click()
    bot_lines = page.locator(".ew-log .ew-bot")
    say(page, "hello!")
    expect(bot_lines.last).to_contain_text("What are you looking for", timeout=20_000)
    sender = page.evaluate("window.EmbudoWidget.sessionId")
    eventually(lambda: lines(api, sender), "the conversation reaching the CRM", stack)
    rosa = api.post("/reps", json={"name": "Rosa Diaz", "languages": ["en"]}).json()["id"]

    taken = api.post(f"/conversations/{sender}/takeover", json={"rep_id": rosa})
    assert taken.status_code == 200, taken.text
    assert (taken.json()["owner"], taken.json()["rep_name"]) == ("rep", "Rosa Diaz")
    assert stack.tracker(sender)["paused"] is True

    # The visitor's next message reaches the rep, and the bot does not answer it.
    bot_count = bot_lines.count()
    say(page, "can a human help me with pricing?")
    seen = eventually(
        lambda: ("visitor", None, "can a human help me with pricing?") in lines(api, sender),
        "the visitor's message reaching the rep",
        stack,
    )
    assert seen
    # Rasa saves a turn's replies with its user event: none were recorded for this one.
    assert "bot" not in events_after_last_user_message(stack, sender)

    sent = api.post(
        f"/conversations/{sender}/messages", json={"rep_id": rosa, "text": "Hi, Rosa here. Happy to help!"}
    )
    assert sent.status_code == 201, sent.text
    rep_line = page.locator(".ew-log .ew-rep")
    expect(rep_line).to_have_count(1, timeout=10_000)
    expect(rep_line).to_contain_text("Rosa Diaz")
    expect(rep_line).to_contain_text("Hi, Rosa here. Happy to help!")
    assert bot_lines.count() == bot_count  # the rep's line is not shown as the bot's
    eventually(
        lambda: ("rep", rosa, "Hi, Rosa here. Happy to help!") in lines(api, sender),
        "the rep's message in the transcript",
        stack,
    )

    refused = api.post(f"/conversations/{sender}/takeover", json={"rep_id": rosa})
    assert refused.status_code == 409 and "already owns" in refused.json()["detail"]

    back = api.post(f"/conversations/{sender}/handback", json={"rep_id": rosa})
    assert back.status_code == 200 and back.json()["owner"] == "bot", back.text
    assert stack.tracker(sender)["paused"] is False
    late = api.post(f"/conversations/{sender}/messages", json={"rep_id": rosa, "text": "one more thing"})
    assert late.status_code == 409

    # The bot picks up at once with the question still open: what the visitor wrote to the rep is no answer.
    expect(bot_lines.nth(bot_count)).to_contain_text("Thanks for talking with our team", timeout=20_000)
    expect(bot_lines.last).to_contain_text("What are you looking for", timeout=20_000)
    say(page, "a booking assistant for our dental clinic")  # the answer: the form goes on
    expect(bot_lines.last).to_contain_text("budget in mind", timeout=20_000)

    transcript = eventually(
        lambda: (found := lines(api, sender)) and "budget in mind" in found[-1][2] and found,
        "the bot's answer after the hand-back in the transcript",
        stack,
    )
    authors = [author for author, _, _ in transcript]
    rep_at = authors.index("rep")
    assert authors[rep_at - 1 : rep_at + 1] == ["visitor", "rep"]  # the unanswered message, then the rep
    assert authors[rep_at + 1] == "bot" and authors[-2:] == ["visitor", "bot"]  # the bot resumes first


def test_a_rep_answers_from_the_console_live_view_while_the_visitor_writes_in_the_widget(
    stack: Stack, browser: Browser, api: httpx.Client
) -> None:
    from decimal import Decimal

    from crm_core.db import unit_of_work
    from crm_core.models import Authority, Rep, UserRole
    from crm_core.people.users import create_user
    from crm_core.qualification.policy import LeadFacts
    from crm_core.sales.leads import capture_lead
    from crm_core.schemas import ConversationRef

    visitor = browser.new_context(locale="en-GB").new_page()
    visitor.goto(stack.web_url)
    visitor.get_by_role("button", name="Chat with us").click()
    bot_lines = visitor.locator(".ew-log .ew-bot")
    say(visitor, "hello!")
    expect(bot_lines.last).to_contain_text("What are you looking for", timeout=20_000)
    sender = visitor.evaluate("window.EmbudoWidget.sessionId")
    eventually(lambda: lines(api, sender), "the conversation reaching the CRM", stack)
    api.post("/reps", json={"name": "Ben Ruiz", "languages": ["en"]}).raise_for_status()
    facts = LeadFacts(
        need="a chat bot",
        budget_amount=Decimal("15000"),
        budget_currency="EUR",
        authority=Authority.DECISION_MAKER,
        timeline_days=14,
        name="Vera Lind",
        email="vera@lind.example",
        consent=True,
    )
    with unit_of_work(stack.crm_url) as session:  # the lead, routed to a rep, as the action captures it
        lead = capture_lead(session, facts, ConversationRef(channel="socketio", sender_id=sender))
        rep = session.get(Rep, lead.assigned_rep_id)
        assert rep is not None
        rep_name = rep.name
        email = f"rep{rep.id}@embudo.example"
        create_user(session, email, "console password 1", UserRole.REP, rep_id=rep.id)

    console = browser.new_context().new_page()
    console.goto(f"{stack.web_url}/console/live/{sender}")
    console.get_by_label("E-mail").fill(email)
    console.get_by_label("Password").fill("console password 1")
    console.get_by_role("button", name="Sign in").click()
    expect(console.get_by_role("heading", name="Live conversation")).to_be_visible()
    expect(console.locator("[data-live-owner]")).to_contain_text("The bot is answering")
    console.get_by_role("button", name="Take over").click()
    expect(console.locator("[data-live-owner]")).to_contain_text("You are answering this conversation")
    assert serious_violations(console) == []  # axe-core, WCAG 2.1 AA

    console.evaluate("window.notReloaded = true")
    say(visitor, "I'd rather talk to a person")
    log = console.locator("[data-live-log] .from-visitor")
    expect(log.last).to_contain_text("I'd rather talk to a person", timeout=20_000)  # pushed, not reloaded
    assert console.evaluate("window.notReloaded") is True
    assert "bot" not in events_after_last_user_message(stack, sender)

    console.get_by_label("Message to the visitor").press_sequentially(
        "Hel"
    )  # the visitor sees a person write
    expect(visitor.locator(".ew-typing")).to_have_text(f"{rep_name} is writing…", timeout=10_000)
    expect(visitor.get_by_role("status")).to_have_text(
        f"{rep_name}, a person from our team, is answering you."
    )
    console.get_by_label("Message to the visitor").fill("Hello Vera, how can I help?")
    console.get_by_role("button", name="Send").click()
    rep_line = visitor.locator(".ew-log .ew-rep")
    expect(rep_line).to_contain_text("Hello Vera, how can I help?", timeout=10_000)
    expect(rep_line).to_contain_text(rep_name)
    # The widget says who answers now, in a status line that screen readers announce.
    expect(visitor.get_by_role("status")).to_have_text(
        f"{rep_name}, a person from our team, is answering you."
    )
    assert serious_violations(visitor) == []
    expect(console.locator("[data-live-log] .from-rep").last).to_contain_text(
        "Hello Vera, how can I help?", timeout=20_000
    )
    assert serious_violations(console) == []
    assert console.evaluate("window.notReloaded") is True  # sent and shown without leaving the page
    expect(console.get_by_label("Message to the visitor")).to_have_value("")

    console.get_by_role("button", name="Hand back to the bot").click()
    expect(console.locator("[data-live-owner]")).to_contain_text("The bot is answering")
    resumed = visitor.locator(".ew-log .ew-bot", has_text="Thanks for talking with our team")
    expect(resumed).to_have_count(1, timeout=20_000)  # the bot resumes at once, with the open question
    expect(bot_lines.last).to_contain_text("What are you looking for")
    say(visitor, "a chatbot for our clinic")
    expect(bot_lines.last).to_contain_text("budget in mind", timeout=20_000)
    expect(visitor.get_by_role("status")).to_have_text("The assistant is answering you again.")


class StandardClient:
    """A standard Rasa web-chat client's side of the socket.io protocol (Engine.IO 4 over a WebSocket), from
    a customer's page of another origin: what rasa-webchat and similar clients send and receive."""

    def __init__(self, rasa_url: str, session: str) -> None:
        url = rasa_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.socket = connect(url, origin="https://shop.example", open_timeout=20)
        self.session = session
        assert str(self.socket.recv(timeout=20)).startswith("0")  # Engine.IO open
        self.socket.send("40")
        self.emit("session_request", {"session_id": session})
        self.utterance(lambda frame: "session_confirm" in frame)

    def emit(self, event: str, data: dict[str, Any]) -> None:
        self.socket.send("42" + json.dumps([event, data]))

    def say(self, text: str) -> None:
        self.emit("user_uttered", {"message": text, "session_id": self.session})

    def utterance(self, wanted: Callable[[str], bool] | None = None, timeout: float = 30) -> dict[str, Any]:
        """The next ``bot_uttered`` message (or the next frame ``wanted`` accepts); pings are answered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = str(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if frame == "2":
                self.socket.send("3")
            elif wanted is not None and wanted(frame):
                return {}
            elif wanted is None and frame.startswith('42["bot_uttered"'):
                message: dict[str, Any] = json.loads(frame[2:])[1]
                return message
        raise AssertionError("no message from the server in time")

    def until(self, text: str) -> list[str]:
        """The texts of the bot's messages up to and including the first that contains ``text``."""
        said = [str(self.utterance().get("text"))]
        while text not in said[-1]:
            said.append(str(self.utterance().get("text")))
        return said

    def quiet_for(self, seconds: float) -> bool:
        """Whether nothing but pings arrives for ``seconds``."""
        try:
            self.utterance(timeout=seconds)
        except (AssertionError, TimeoutError):
            return True
        return False


def test_a_standard_web_chat_client_on_another_site_talks_to_a_rep_and_back_to_the_bot(
    stack: Stack, api: httpx.Client
) -> None:
    sender = "standard-client-visitor"
    visitor = StandardClient(stack.rasa_url, sender)
    visitor.say("hello there, good evening!")
    visitor.until("What are you looking for")
    eventually(lambda: lines(api, sender), "the conversation reaching the CRM", stack)
    kai = api.post("/reps", json={"name": "Kai Moreno", "languages": ["en"]}).json()["id"]
    assert api.post(f"/conversations/{sender}/takeover", json={"rep_id": kai}).status_code == 200

    visitor.say("is a real person reading this?")
    assert visitor.quiet_for(3)  # the bot stays quiet while the rep owns the conversation
    sent = api.post(f"/conversations/{sender}/messages", json={"rep_id": kai, "text": "Yes, Kai here."})
    assert sent.status_code == 201, sent.text
    assert visitor.utterance()["text"] == "Yes, Kai here."

    assert api.post(f"/conversations/{sender}/handback", json={"rep_id": kai}).status_code == 200
    resumed = visitor.until("What are you looking for")  # the bot picks up with the open question
    assert "Thanks for talking with our team" in resumed[0]
    visitor.say("a chat assistant for our bike shop")
    visitor.until("budget")
    visitor.socket.close()

    transcript = eventually(
        lambda: (found := lines(api, sender)) and "budget" in found[-1][2] and found,
        "the whole conversation in the transcript",
        stack,
    )
    asked = transcript.index(("visitor", None, "is a real person reading this?"))
    assert transcript[asked + 1] == ("rep", kai, "Yes, Kai here.")
    after = [author for author, _, _ in transcript[asked + 2 :]]
    assert after[0] == "bot" and after[-2:] == ["visitor", "bot"] and "rep" not in after
