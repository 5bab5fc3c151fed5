"""The chat channels against the real stack: nobody but the Telegram gateway's channel writes into a Telegram
conversation, no public channel writes into another channel's conversation, and the limits on length and
rate refuse politely with nothing stored (rasa_channels/guard.py, failsafe.py, gateway.py)."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.telegram.rasa_client import RasaRelay
from crm_core.db import unit_of_work
from crm_core.models import Message
from rasa_channels.wording import REFUSALS
from tests.harness import GATEWAY_TOKEN, Stack, running_stack
from tests.socket_chat import SocketChat

pytestmark = pytest.mark.integration

LIMITS = {
    "EMBUDO_CHAT_MAX_CHARS": "300",
    "EMBUDO_CHAT_SENDER_PER_MINUTE": "4",
    "EMBUDO_CHAT_ADDRESS_PER_MINUTE": "6",
    # As behind the README's reverse proxy: the client's address comes from X-Real-IP, so each test here
    # is its own client.
    "SANIC_REAL_IP_HEADER": "x-real-ip",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("chat-channels"), env=LIMITS, follow_transcripts=True
    ) as stack:
        yield stack


def rest(stack: Stack, body: Any, address: str, **headers: str) -> httpx.Response:
    return stack.http.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json=body, headers={"x-real-ip": address, **headers}
    )


def gateway(stack: Stack, sender: str, text: str, token: str = GATEWAY_TOKEN) -> httpx.Response:
    return stack.http.post(
        f"{stack.rasa_url}/webhooks/telegram/webhook",
        json={"sender": sender, "message": text, "metadata": {"language_code": "en"}},
        headers={"Authorization": f"Bearer {token}"},
    )


def user_texts(stack: Stack, sender: str) -> list[str]:
    return [e["text"] for e in stack.tracker(sender)["events"] if e["event"] == "user"]


def test_only_the_gateway_writes_into_a_telegram_conversation(stack: Stack) -> None:
    sender = "telegram-90001"
    assert gateway(stack, sender, "hello").is_success
    before = stack.tracker(sender)["events"]

    assert gateway(stack, sender, "hi, forged", token="guessed").status_code == 401
    forged = rest(stack, {"sender": sender, "message": "change my e-mail to x@evil.example"}, "10.0.1.1")
    assert forged.status_code == 403 and forged.json()["error"] == "other_channel"
    assert rest(stack, {"sender": "Telegram-90001", "message": "hi"}, "10.0.1.1").status_code == 403
    widget = SocketChat(stack.rasa_url)
    assert widget.session(sender) != sender  # a fresh conversation instead
    reply = widget.say(sender, "it's me again")
    assert reply["text"] == REFUSALS["other_channel"]["en"]
    widget.close()

    assert stack.tracker(sender)["events"] == before
    assert user_texts(stack, sender) == ["hello"]
    # and the gateway's channel writes into nothing else
    assert gateway(stack, "it-rest-visitor", "hello").status_code == 400


def test_a_conversation_stays_with_the_channel_it_started_on(stack: Stack) -> None:
    assert rest(stack, {"sender": "it-rest-first", "message": "hello"}, "10.0.2.1").is_success
    widget = SocketChat(stack.rasa_url)
    assert widget.session("it-rest-first") != "it-rest-first"
    assert widget.say("it-rest-first", "hi")["text"] == REFUSALS["other_channel"]["en"]

    session = widget.session("it-widget-first")
    assert session == "it-widget-first"
    assert not widget.say(session, "hey, good evening")["text"].startswith("Sorry")
    widget.drain()
    refused = rest(stack, {"sender": session, "message": "hi"}, "10.0.2.1")
    assert refused.status_code == 403
    # a client cannot name its channel either (Rasa's REST channel read it from the body)
    rest(stack, {"sender": "it-rest-named", "message": "hello", "input_channel": "telegram"}, "10.0.2.2")
    [event] = [e for e in stack.tracker("it-rest-named")["events"] if e["event"] == "user"]
    assert event["input_channel"] == "rest"
    widget.close()
    assert user_texts(stack, "it-rest-first") == ["hello"]
    assert user_texts(stack, session) == ["hey, good evening"]


def test_a_socket_writes_only_into_the_session_it_was_confirmed(stack: Stack) -> None:
    visitor, other = SocketChat(stack.rasa_url), SocketChat(stack.rasa_url)
    mine = visitor.session("it-socket-mine")
    other.session("it-socket-theirs")
    assert other.say(mine, "a line in someone else's chat")["text"] == REFUSALS["other_channel"]["en"]
    assert visitor.say(mine, "hello")["text"] != REFUSALS["other_channel"]["en"]
    visitor.drain()
    assert user_texts(stack, mine) == ["hello"]
    visitor.close(), other.close()


def test_too_long_and_unreadable_messages_are_refused_in_the_visitors_language(stack: Stack) -> None:
    long_text = "necesitamos un bot " * 20  # 380 characters, over the 300 set here
    answer = rest(stack, {"sender": "it-long", "message": long_text}, "10.0.3.1", **{"accept-language": "es"})
    assert answer.status_code == 413 and answer.json() == {
        "error": "too_long",
        "message": REFUSALS["too_long"]["es"],
    }
    assert rest(stack, {"sender": "it-long", "message": "nul \x00 byte"}, "10.0.3.1").status_code == 400
    broken = stack.http.post(f"{stack.rasa_url}/webhooks/rest/webhook", content=b'{"sender": "it-long",')
    assert broken.status_code == 400

    widget = SocketChat(stack.rasa_url)
    session = widget.session("it-long-widget")
    assert widget.say(session, long_text, {"locale": "es-ES"})["text"] == REFUSALS["too_long"]["es"]
    assert widget.say(session, {"not": "text"})["text"] == REFUSALS["bad_request"]["en"]
    widget.close()

    relay = RasaRelay(stack.rasa_url, GATEWAY_TOKEN)
    replies = asyncio.run(relay.send("telegram-90002", long_text, {"language_code": "es"}))
    assert replies == [{"text": REFUSALS["too_long"]["es"]}]

    # nothing to read (clients send that when the chat opens): passed on to no one, no answer, no failed turn
    assert rest(stack, {"sender": "it-empty", "message": " \n"}, "10.0.3.2").json() == []

    for sender in ("it-long", "it-long-widget", "telegram-90002", "it-empty"):
        tracker = stack.tracker(sender)
        assert [e for e in tracker["events"] if e["event"] == "user"] == []


def test_the_rate_per_sender_and_per_address(stack: Stack) -> None:
    said = [rest(stack, {"sender": "it-fast", "message": f"hello {n}"}, f"10.0.4.{n}") for n in range(5)]
    assert [r.status_code for r in said] == [200, 200, 200, 200, 429]
    assert said[-1].json()["message"] == REFUSALS["too_fast"]["en"]
    assert user_texts(stack, "it-fast") == [f"hello {n}" for n in range(4)]

    senders = [f"it-office-{n}" for n in range(7)]  # one address, seven visitors
    statuses = [rest(stack, {"sender": s, "message": "hello"}, "10.0.5.1").status_code for s in senders]
    assert statuses == [200] * 6 + [429]
    assert user_texts(stack, senders[-1]) == []

    telegram = [gateway(stack, "telegram-90003", f"hi {n}").status_code for n in range(5)]
    assert telegram == [200, 200, 200, 200, 429]  # the gateway's own address is not counted


def test_no_refused_message_reaches_the_crm_transcript(stack: Stack) -> None:
    assert rest(stack, {"sender": "it-crm", "message": "too long " * 40}, "10.0.6.1").status_code == 413
    assert rest(stack, {"sender": "it-crm", "message": "hello from the crm check"}, "10.0.6.1").is_success
    refused = {"too long " * 40, "necesitamos un bot " * 20, "nul \x00 byte", "hello 4", "hi, forged"}
    refused |= {"a line in someone else's chat", "change my e-mail to x@evil.example", "it's me again"}
    deadline = time.monotonic() + 60
    texts: set[str] = set()
    while "hello from the crm check" not in texts:  # the copier has caught up with this stack
        assert time.monotonic() < deadline, stack.log_tail()
        time.sleep(0.5)
        with unit_of_work(stack.crm_url) as session:
            texts = set(session.scalars(select(Message.text)))
    assert texts.isdisjoint(refused)
