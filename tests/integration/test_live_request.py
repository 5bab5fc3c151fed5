"""Asking for a person, through the real stack (Rasa, the action server, the web app's API, the transcript
copier and, for the wait, the notifier): a rep on shift is asked to join and takes over; nobody takes it
within the wait and the bot says so and asks how to call back; out of hours the visitor hears when the team
is back; after a hand-back the bot asks the next question still open."""

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from crm_core.db import unit_of_work
from crm_core.delivery.notifications import claim_due
from crm_core.models import Lead, NotificationChannel, Rep
from tests.harness import APP_PYTHON, ROOT, Stack, running_stack
from tests.integration.test_takeover import TOKEN, eventually, lines

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("live-request-stack")
    with running_stack(workdir, follow_transcripts=True, env={"EMBUDO_API_TOKEN": TOKEN}) as stack:
        yield stack


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{stack.web_url}/api/v1", headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def rosa(stack: Stack) -> int:
    """An English-speaking rep with no working hours set: always on shift."""
    with unit_of_work(stack.crm_url) as session:
        rep = Rep(name="Rosa Diaz", languages=["en"], telegram_chat_id=99001)
        session.add(rep)
        session.flush()
        return rep.id


def said(replies: list[dict[str, Any]]) -> str:
    return " ".join(str(reply.get("text")) for reply in replies)


def bot_texts(stack: Stack, sender: str) -> list[str]:
    return [str(e.get("text")) for e in stack.tracker(sender)["events"] if e["event"] == "bot"]


def owner(api: httpx.Client, sender: str) -> str:
    return str(api.get(f"/conversations/{sender}").json()["owner"])


def test_a_rep_on_shift_is_asked_to_join_takes_over_and_hands_back_to_the_next_open_question(
    stack: Stack, api: httpx.Client, rosa: int
) -> None:
    sender = "live-join"
    stack.say(sender, "hi, good afternoon to you")
    stack.say(sender, "we need a chatbot that answers questions on our online shop")
    reply = said(stack.say(sender, "can I talk to a real person please?"))
    assert "I've asked Rosa Diaz from our team to join this chat" in reply, reply
    assert "your name" in reply, reply  # meanwhile: how to reach the visitor, should the chat drop
    assert owner(api, sender) == "waiting"
    lead = stack.lead(sender)
    assert lead.assigned_rep == "Rosa Diaz"
    with unit_of_work(stack.crm_url) as session:  # what the notifier sends her on Telegram, at once
        [card] = claim_due(session, NotificationChannel.TELEGRAM)
    assert f"join at http://localhost:8000/console/live/{sender}" in card.text, card.text

    taken = api.post(f"/conversations/{sender}/takeover", json={"rep_id": rosa})
    assert taken.status_code == 200 and taken.json()["owner"] == "rep", taken.text
    sent = api.post(f"/conversations/{sender}/messages", json={"rep_id": rosa, "text": "Hi, Rosa here!"})
    assert sent.status_code == 201, sent.text
    assert stack.say(sender, "great, our budget is about 10k euros") == []  # to Rosa, not the bot

    back = api.post(f"/conversations/{sender}/handback", json={"rep_id": rosa})
    assert back.status_code == 200 and back.json()["owner"] == "bot", back.text
    # The bot speaks first, and asks the first question still open (the need stays answered).
    resumed = bot_texts(stack, sender)[-2:]
    slots = stack.tracker(sender)["slots"]
    assert resumed[0].startswith("Thanks for talking with our team!") and resumed[1] == "And your name?", str(
        slots
    )
    reply = said(stack.say(sender, "Wes Mantooth"))
    assert "e-mail" in reply, reply  # the answer was taken as the name
    reply = said(stack.say(sender, "wes.mantooth@channel4.example"))
    # the budget told to Rosa is not asked again (actions/told_the_rep.py): the next open question is the role
    assert "role in the decision" in reply and "budget" not in reply, reply
    lead = stack.lead(sender)
    assert lead.email == "wes.mantooth@channel4.example"  # at once, for Rosa
    assert (lead.budget_amount, lead.budget_currency) == (10000, "EUR"), lead  # from what she heard

    transcript = eventually(
        lambda: (found := lines(api, sender)) and found[-1][2].startswith("What's your role") and found,
        "the last question in the transcript",
        stack,
    )
    texts = [text for _, _, text in transcript]
    rep_at = texts.index("Hi, Rosa here!")
    assert transcript[rep_at][:2] == ("rep", rosa)
    assert transcript[rep_at + 1] == ("visitor", None, "great, our budget is about 10k euros")
    assert transcript[rep_at + 2][0] == "bot" and texts[rep_at + 2].startswith("Thanks for talking")
    assert texts.count("What are you looking for? Tell me a little about what you need it for.") <= 1


def test_nobody_takes_over_within_the_wait_so_the_bot_says_so_and_asks_how_to_call_back(
    stack: Stack, api: httpx.Client, rosa: int
) -> None:
    sender = "live-timeout"
    stack.say(sender, "hello")
    reply = said(stack.say(sender, "I'd like to speak to a human being"))
    assert "join this chat" in reply, reply
    env = {
        **os.environ,
        "EMBUDO_DATABASE_URL": stack.crm_url,
        "EMBUDO_EVENTS_URL": stack.events_url,
        "EMBUDO_RASA_API_URL": stack.rasa_url,
        "EMBUDO_RASA_API_TOKEN": stack.rasa_token,
        "EMBUDO_LIVE_WAIT_MINUTES": "0.05",  # 3 s
    }
    log = (stack.logs / "notifier.log").open("wb")
    notifier = subprocess.Popen(
        [str(APP_PYTHON), "-m", "bot.notify.worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        told = eventually(
            lambda: [t for t in bot_texts(stack, sender) if "nobody from our team could join" in t],
            "the visitor being told nobody could join",
            stack,
            timeout=60,
        )
    finally:
        notifier.terminate()
        notifier.wait(timeout=20)
    assert "What e-mail address or phone number can we call you back on?" in told[0]
    assert owner(api, sender) == "bot"
    history = api.get(f"/conversations/{sender}").json()
    assert history["owner"] == "bot"
    with unit_of_work(stack.crm_url) as session:
        lead = session.query(Lead).filter(Lead.assigned_rep_id == rosa).order_by(Lead.id.desc()).first()
        assert lead is not None and lead.sla_due_at is not None  # keeps its rep and acceptance clock
    reply = said(stack.say(sender, "wes@channel4.example"))
    assert "your name" in reply, reply  # the e-mail was taken; the form goes on
    assert stack.lead(sender).email == "wes@channel4.example"


def test_out_of_hours_the_visitor_hears_when_the_team_is_back_and_is_asked_for_contact_details(
    stack: Stack, api: httpx.Client, rosa: int
) -> None:
    tomorrow_9 = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(9), UTC)
    with unit_of_work(stack.crm_url) as session:  # the one Spanish speaker is away until tomorrow 09:00
        session.add(Rep(name="Lucía", languages=["es"], timezone="UTC", away_until=tomorrow_9))
    sender = "live-off-hours"
    visitor = {"locale": "es-ES", "timezone": "UTC"}
    stack.say(sender, "hola, buenas", visitor)
    reply = said(stack.say(sender, "¿puedo hablar con una persona de verdad?", visitor))
    assert "vuelve mañana a las 09:00 (tu hora)" in reply, reply
    assert "cómo te llamas" in reply, reply  # contact details first
    assert eventually(lambda: lines(api, sender), "the conversation reaching the CRM", stack)
    assert owner(api, sender) == "bot"  # nobody is waiting live


def test_a_visitor_left_waiting_by_a_rep_gone_away_gets_the_bot_back(stack: Stack, api: httpx.Client) -> None:
    sender = "live-owner-gone"
    with unit_of_work(stack.crm_url) as session:
        gus = Rep(name="Gus Grey", languages=["en"])
        session.add(gus)
        session.flush()
        gus_id = gus.id
    stack.say(sender, "hello")
    stack.say(sender, "my e-mail is kim@owner-gone.example")
    eventually(lambda: lines(api, sender), "the conversation reaching the CRM", stack)
    taken = api.post(f"/conversations/{sender}/takeover", json={"rep_id": gus_id})
    assert taken.status_code == 200, taken.text
    with unit_of_work(stack.crm_url) as session:  # Gus steps away for the afternoon
        rep = session.get(Rep, gus_id)
        assert rep is not None
        rep.away_until = datetime.now(UTC) + timedelta(hours=4)
    assert stack.say(sender, "hello? is anyone there?") == []  # paused: for Gus, who is away
    eventually(
        lambda: any(text == "hello? is anyone there?" for _, _, text in lines(api, sender)),
        "the visitor's line in the transcript",
        stack,
    )
    env = {
        **os.environ,
        "EMBUDO_DATABASE_URL": stack.crm_url,
        "EMBUDO_EVENTS_URL": stack.events_url,
        "EMBUDO_RASA_API_URL": stack.rasa_url,
        "EMBUDO_RASA_API_TOKEN": stack.rasa_token,
        "EMBUDO_LIVE_WAIT_MINUTES": "0.05",  # 3 s
    }
    log = (stack.logs / "notifier-owner-gone.log").open("wb")
    notifier = subprocess.Popen(
        [str(APP_PYTHON), "-m", "bot.notify.worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        told = eventually(
            lambda: [t for t in bot_texts(stack, sender) if "nobody from our team could" in t.lower()
                     or "get back to you at" in t],
            "the visitor being told nobody can join",
            stack,
            timeout=60,
        )  # fmt: skip
    finally:
        notifier.terminate()
        notifier.wait(timeout=20)
    assert "kim@owner-gone.example" in told[0]  # the contact is known: no need to ask for it
    history = api.get(f"/conversations/{sender}").json()
    assert history["owner"] == "bot", history
    reply = said(stack.say(sender, "ok thanks"))
    assert reply, "the bot answers again"
