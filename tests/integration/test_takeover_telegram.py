"""Live takeover on Telegram: the visitor and the rep both on (fake) Telegram, through real processes — Rasa,
the action server, the transcript copier, the notifier and the gateway against a local fake Bot API."""

import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from crm_core.chats.transcripts import transcript
from crm_core.db import unit_of_work
from crm_core.models import Authority, MessageRole, Owner
from crm_core.people.reps import add_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef, NewRep
from tests.fake_telegram import FakeTelegram
from tests.harness import APP_PYTHON, ROOT, Stack, running_stack

pytestmark = pytest.mark.integration

ANA_CHAT, VISITOR_CHAT = 82001, 72001
SENDER = f"telegram-{VISITOR_CHAT}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, FakeTelegram]]:
    workdir = tmp_path_factory.mktemp("takeover-telegram")
    fake = FakeTelegram()
    bot_api = fake.serve()
    with running_stack(workdir, follow_transcripts=True) as stack:
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Ana", languages=["en"], telegram_chat_id=ANA_CHAT))
        env = {
            **os.environ,
            "EMBUDO_DATABASE_URL": stack.crm_url,
            "EMBUDO_RASA_API_URL": stack.rasa_url,
            "EMBUDO_RASA_API_TOKEN": stack.rasa_token,
            "EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
            "EMBUDO_TELEGRAM_API_BASE_URL": fake.base_url,
            "EMBUDO_TELEGRAM_RASA_URL": stack.rasa_url,
            "EMBUDO_TELEGRAM_POLL_TIMEOUT": "1",
            "EMBUDO_TELEGRAM_PENDING_DIR": str(workdir / "pending-replies"),
        }
        processes = [
            subprocess.Popen(
                [str(APP_PYTHON), "-m", module],
                cwd=ROOT,
                env=env,
                stdout=(workdir / f"{module}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for module in ("bot.telegram.gateway", "bot.notify.worker")
        ]
        try:
            fake.wait_for(lambda: fake.sent("setMyCommands"), 30, "the gateway to start")
            yield stack, fake
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=20)
            bot_api.stop()
            print(stack.log_tail(40))
            for module in ("bot.telegram.gateway", "bot.notify.worker"):
                print((workdir / f"{module}.log").read_text(errors="replace")[-3000:])


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [str(message.get("text")) for message in fake.sent(chat_id=chat_id)]


def arrives(fake: FakeTelegram, chat_id: int, text: str) -> Any:
    return fake.wait_for(
        lambda: [t for t in texts(fake, chat_id) if text in t], 30, f"{text!r} in chat {chat_id}"
    )


def events_after_last_user_message(stack: Stack) -> list[str]:
    events = stack.tracker(SENDER)["events"]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    return [e["event"] for e in events[last_user + 1 :]]


def test_a_rep_takes_over_a_telegram_chat_from_the_lead_card_and_hands_it_back(
    world: tuple[Stack, FakeTelegram],
) -> None:
    stack, fake = world
    visitor, ana = fake.user(VISITOR_CHAT, "Ines"), fake.user(ANA_CHAT, "Ana")
    fake.user_says(visitor, "/start")
    arrives(fake, VISITOR_CHAT, "What are you looking for")
    facts = LeadFacts(
        need="a booking bot",
        budget_amount=Decimal("20000"),
        budget_currency="EUR",
        authority=Authority.DECISION_MAKER,
        timeline_days=10,
        name="Ines Prado",
        email="ines@prado.example",
        consent=True,
    )
    with unit_of_work(stack.crm_url) as session:  # as action_capture_lead captures it
        lead = capture_lead(session, facts, ConversationRef(channel="telegram", sender_id=SENDER))
        lead_id = lead.id
    [card] = fake.wait_for(
        lambda: [m for m in fake.sent(chat_id=ANA_CHAT) if f"#{lead_id}" in str(m["text"])],
        30,
        "the lead card",
    )
    assert card["reply_markup"]["inline_keyboard"][1][0]["text"] == "💬 Take over the chat"

    fake.user_presses(ana, card, f"lead:takeover:{lead_id}")
    arrives(fake, ANA_CHAT, f"You are answering lead #{lead_id}'s chat")
    assert stack.tracker(SENDER)["paused"] is True

    # The visitor's message reaches Ana; the bot does not answer it.
    fake.user_says(visitor, "can I talk to someone real?")
    arrives(fake, ANA_CHAT, f"💬 Visitor ({SENDER}): can I talk to someone real?")
    assert "bot" not in events_after_last_user_message(stack)

    # Ana's messages reach the visitor, in order.
    fake.user_says(ana, "Hi Ines, Ana here.")
    fake.user_says(ana, "What dates do you have in mind?")
    arrives(fake, VISITOR_CHAT, "👤 Ana: What dates do you have in mind?")
    to_visitor = [t for t in texts(fake, VISITOR_CHAT) if t.startswith("👤")]
    assert to_visitor == ["👤 Ana: Hi Ines, Ana here.", "👤 Ana: What dates do you have in mind?"]

    fake.user_says(ana, "/handback")
    arrives(fake, ANA_CHAT, "The bot answers the visitor again.")
    assert stack.tracker(SENDER)["paused"] is False
    # The bot resumes on its own with the question still open (the message to Ana is no answer to it).
    resumed = fake.wait_for(
        lambda: (
            (sent := texts(fake, VISITOR_CHAT))[-2].startswith("Thanks for talking with our team!")
            and sent[-1].startswith("What are you looking for")
            and sent
        ),
        30,
        "the bot resuming in the visitor's chat",
    )
    before = len(resumed)
    fake.user_says(visitor, "a booking bot for our guest house")
    fake.wait_for(lambda: len(texts(fake, VISITOR_CHAT)) > before, 30, "the bot answering again")
    assert "budget in mind" in texts(fake, VISITOR_CHAT)[-1]
    # No longer answering: Ana's text goes to the bot as her own chat (the bot replies to her), not to Ines.
    before = len(texts(fake, ANA_CHAT))
    fake.user_says(ana, "hello?")
    fake.wait_for(lambda: len(texts(fake, ANA_CHAT)) > before, 30, "the bot answering Ana herself")

    with unit_of_work(stack.crm_url) as session:
        found = transcript(session, SENDER)
    rep_lines = [m.text for m in found.messages if m.role is MessageRole.REP]
    assert rep_lines == ["Hi Ines, Ana here.", "What dates do you have in mind?"]
    assert [(c.to_owner, c.changed_by) for c in found.ownership] == [
        (Owner.REP, "telegram: rep 1"),
        (Owner.BOT, "telegram: rep 1"),
    ]
