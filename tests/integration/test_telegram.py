"""The Telegram gateway as a real process: python-telegram-bot polls a local fake Bot API over HTTP,
relays to the real Rasa stack, and renders the replies."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_core.db import unit_of_work
from crm_core.sales.leads import list_leads
from tests.fake_telegram import FakeTelegram
from tests.harness import APP_PYTHON, ROOT, Stack, running_stack, running_telegram_gateway

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("telegram-stack")) as stack:
        yield stack


@pytest.fixture
def telegram(stack: Stack, tmp_path: Path) -> Iterator[FakeTelegram]:
    with running_telegram_gateway(stack, tmp_path) as fake:
        yield fake


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [str(message["text"]) for message in fake.sent(chat_id=chat_id)]


def reply_to(
    fake: FakeTelegram, chat_id: int, user: dict[str, Any], text: str, expect: str
) -> dict[str, Any]:
    """The visitor writes; returns the bot's newest message once it contains ``expect``."""
    before = len(fake.sent(chat_id=chat_id))
    fake.user_says(user, text)

    def newest() -> dict[str, Any] | None:
        new = fake.sent(chat_id=chat_id)[before:]
        return next((m for m in reversed(new) if expect.lower() in str(m["text"]).lower()), None)

    found: dict[str, Any] = fake.wait_for(newest, 30, f"a reply containing {expect!r} to {text!r}")
    return found


def test_a_telegram_visitor_is_qualified_and_recorded(telegram: FakeTelegram, stack: Stack) -> None:
    user = telegram.user(70001, "Ines", "en")
    chat = user["id"]
    first = reply_to(telegram, chat, user, "/start spring_campaign", "What are you looking for")
    assert "Embudo's assistant" in " ".join(texts(telegram, chat))
    assert first["text"]
    assert telegram.sent("sendChatAction", chat_id=chat), "a typing indicator is shown"
    reply_to(telegram, chat, user, "we need a bot to answer customers on our web shop", "budget")
    reply_to(telegram, chat, user, "around 30 thousand dollars", "role")
    reply_to(telegram, chat, user, "I'm the founder, I decide", "When")
    reply_to(telegram, chat, user, "within two weeks", "company")
    reply_to(telegram, chat, user, "Blue Harbor Ltd", "name")
    reply_to(telegram, chat, user, "Ines Moreau", "e-mail")
    consent = reply_to(telegram, chat, user, "ines@blueharbor.example", "May we contact you")
    assert "by e-mail" not in consent["text"], "the question fits whatever contact was given"

    keyboard = consent["reply_markup"]["inline_keyboard"]
    assert [[button["text"] for button in row] for row in keyboard] == [["Yes, please"], ["No, thanks"]]
    before = len(telegram.sent(chat_id=chat))
    telegram.user_presses(user, consent, keyboard[0][0]["callback_data"])
    telegram.wait_for(
        lambda: any("will contact you" in t or "material" in t for t in texts(telegram, chat)[before:]),
        30,
        "the closing message",
    )
    assert telegram.sent("answerCallbackQuery"), "the button press is acknowledged"
    assert telegram.sent("editMessageReplyMarkup"), "the used buttons are removed"

    with unit_of_work(stack.crm_url) as session:
        [lead] = [lead for lead in list_leads(session) if lead.conversation_id == f"telegram-{chat}"]
    assert lead.email == "ines@blueharbor.example"
    assert lead.source == "spring_campaign"
    assert lead.channel == "telegram"


def test_help_and_language_commands_answer_in_the_users_language(telegram: FakeTelegram) -> None:
    user = telegram.user(70002, "Lucía", "es-ES")
    reply_to(telegram, user["id"], user, "/help", "/cancel")
    assert "escríbeme" in texts(telegram, user["id"])[-1]
    choice = reply_to(telegram, user["id"], user, "/language", "idioma")
    buttons = [row[0]["text"] for row in choice["reply_markup"]["inline_keyboard"]]
    assert buttons == ["English", "Español"]


def test_flood_control_is_waited_out_and_nothing_is_lost(telegram: FakeTelegram) -> None:
    user = telegram.user(70003, "Bo")
    telegram.fail("sendMessage", times=2, status=429, retry_after=1)
    reply_to(telegram, user["id"], user, "hello again, anyone home?", "What are you looking for")
    assert [f.remaining for f in telegram.faults] == [0]


def test_a_bot_api_outage_delays_replies_but_does_not_lose_them(telegram: FakeTelegram) -> None:
    user = telegram.user(70004, "Cy")
    telegram.fail("sendMessage", times=3, status=502, retry_after=None)
    reply_to(telegram, user["id"], user, "hey", "What are you looking for")
    greeting = [t for t in texts(telegram, user["id"]) if "Embudo's assistant" in t]
    assert len(greeting) == 1, "each reply is delivered exactly once"


def test_a_shared_contact_is_relayed_as_the_phone_number(telegram: FakeTelegram, stack: Stack) -> None:
    user = telegram.user(70005, "Di")
    reply_to(telegram, user["id"], user, "hi", "What are you looking for")
    telegram.user_shares_contact(user, "+34600111222")
    telegram.wait_for(
        lambda: any(
            e.get("event") == "user" and e.get("text") == "+34600111222"
            for e in stack.tracker(f"telegram-{user['id']}")["events"]
        ),
        30,
        "the phone number to reach Rasa",
    )
    events = stack.tracker(f"telegram-{user['id']}")["events"]
    shared = next(e for e in events if e.get("event") == "user" and e.get("text") == "+34600111222")
    assert shared["metadata"]["contact_phone"] == "+34600111222"
    assert shared["metadata"]["channel"] == "telegram"


def test_webhook_mode_accepts_only_updates_carrying_the_secret_token(stack: Stack, tmp_path: Any) -> None:
    import httpx

    from tests.harness import free_port

    fake = FakeTelegram()
    running = fake.serve()
    port = free_port()
    webhook = f"http://127.0.0.1:{port}/telegram"
    env = {
        **os.environ,
        "EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
        "EMBUDO_TELEGRAM_API_BASE_URL": fake.base_url,
        "EMBUDO_TELEGRAM_RASA_URL": stack.rasa_url,
        "EMBUDO_TELEGRAM_WEBHOOK_URL": webhook,
        "EMBUDO_TELEGRAM_WEBHOOK_PORT": str(port),
        "EMBUDO_TELEGRAM_WEBHOOK_SECRET": "s3cret-Token_1",
    }
    gateway = subprocess.Popen(
        [str(APP_PYTHON), "-m", "bot.telegram.gateway"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "gateway.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        [registered] = fake.wait_for(lambda: fake.sent("setWebhook"), 30, "setWebhook")
        assert registered["url"] == webhook
        assert registered["secret_token"] == "s3cret-Token_1"
        user = fake.user(70006, "Eva")
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "chat": {"id": user["id"], "type": "private"},
                "from": user,
                "text": "hello",
            },
        }
        forged = httpx.post(webhook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert forged.status_code == 403
        genuine = httpx.post(
            webhook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
        )
        assert genuine.status_code == 200
        fake.wait_for(
            lambda: any("What are you looking for" in str(m["text"]) for m in fake.sent(chat_id=user["id"])),
            30,
            "the reply to the genuine update",
        )
        assert len([m for m in fake.sent(chat_id=user["id"]) if "Embudo's assistant" in str(m["text"])]) == 1
    finally:
        gateway.terminate()
        gateway.wait(timeout=20)
        running.stop()


def test_an_edit_of_the_latest_answer_corrects_it_and_an_older_edit_is_not_read(
    telegram: FakeTelegram, stack: Stack
) -> None:
    user = telegram.user(70016, "Eli")
    chat = user["id"]
    reply_to(telegram, chat, user, "/start", "What are you looking for")
    need = telegram.user_says(user, "a chatbot for our online shop")
    telegram.wait_for(lambda: any("budget" in t for t in texts(telegram, chat)), 30, "the budget question")
    before = len(texts(telegram, chat))
    telegram.user_edits(user, need, "a chatbot for our online shop and our support desk")
    telegram.wait_for(
        lambda: any("changed that answer" in t for t in texts(telegram, chat)[before:]), 30, "the correction"
    )
    slots = stack.tracker(f"telegram-{chat}")["slots"]
    assert slots["need"] == "a chatbot for our online shop and our support desk"
    assert slots["budget"] is None  # the edit was not taken for the budget
    telegram.wait_for(
        lambda: any("budget" in t for t in texts(telegram, chat)[before:]), 30, "the budget question again"
    )
    reply_to(telegram, chat, user, "about 20k euros", "role")
    before = len(texts(telegram, chat))
    telegram.user_edits(user, need, "a chatbot for a bakery")  # no longer the latest message
    telegram.wait_for(
        lambda: any("edited" in t for t in texts(telegram, chat)[before:]), 30, "the edit's reply"
    )
    slots = stack.tracker(f"telegram-{chat}")["slots"]
    assert slots["need"] == "a chatbot for our online shop and our support desk"
    user_lines = [e["text"] for e in stack.tracker(f"telegram-{chat}")["events"] if e.get("event") == "user"]
    assert "a chatbot for a bakery" not in user_lines


@pytest.mark.parametrize("kind", ["photo", "sticker", "voice", "location", "document"])
def test_media_gets_a_polite_reply(telegram: FakeTelegram, kind: str) -> None:
    user = telegram.user(
        70100 + ["photo", "sticker", "voice", "location", "document"].index(kind), "Flo", "es"
    )
    telegram.user_sends(user, kind)
    telegram.wait_for(
        lambda: any("Solo puedo leer texto" in t for t in texts(telegram, user["id"])), 30, kind
    )


def test_a_photos_caption_is_read_as_the_answer(telegram: FakeTelegram, stack: Stack) -> None:
    user = telegram.user(70007, "Gus")
    chat = user["id"]
    reply_to(telegram, chat, user, "/start", "What are you looking for")
    telegram.user_sends(user, "photo", caption="a booking assistant for our hotel website")
    telegram.wait_for(lambda: any("budget" in t for t in texts(telegram, chat)), 30, "the next question")
    user_lines = [e["text"] for e in stack.tracker(f"telegram-{chat}")["events"] if e.get("event") == "user"]
    assert "a booking assistant for our hotel website" in user_lines
