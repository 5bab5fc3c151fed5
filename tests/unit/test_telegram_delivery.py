"""Sending to Telegram: retried until taken with a capped backoff and an admin alert, never sent twice when
it may have arrived; updates of one chat in order while other chats go on."""

import asyncio
import logging
from typing import Any

import httpx
import pytest
from telegram import Chat, Message, Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.telegram.delivery import Retry, deliver
from bot.telegram.ordering import PerChatUpdates


class Clock:
    """Time that moves only when ``deliver`` sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def failing(times: int, error: Exception) -> Any:
    calls = []

    async def send() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "sent"

    send.calls = calls  # type: ignore[attr-defined]
    return send


def test_an_outage_of_any_length_is_waited_out_with_a_capped_backoff_and_one_alert(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, send = Clock(), failing(40, NetworkError("Bad Gateway"))
    retry = Retry(first_backoff=0.5, cap=60, alert_after=300)
    with caplog.at_level(logging.WARNING):
        result = asyncio.run(deliver(send, "reply", retry, clock.sleep, clock))
    assert result == "sent" and len(send.calls) == 41
    assert clock.sleeps[:4] == [0.5, 1.0, 2.0, 4.0] and max(clock.sleeps) == 60
    assert clock.now > 30 * 60, "half an hour of outage, and still delivered"
    assert sum("ADMIN ALERT" in r.message for r in caplog.records) == 1


def test_flood_control_waits_as_told() -> None:
    clock, send = Clock(), failing(2, RetryAfter(8))
    assert asyncio.run(deliver(send, "reply", Retry(), clock.sleep, clock)) == "sent"
    assert clock.sleeps == [8.0, 8.0]


def test_a_request_that_got_no_answer_is_not_sent_again(caplog: pytest.LogCaptureFixture) -> None:
    timed_out = TimedOut()
    timed_out.__cause__ = httpx.ReadTimeout("no answer")
    clock, send = Clock(), failing(1, timed_out)
    assert asyncio.run(deliver(send, "reply", Retry(), clock.sleep, clock)) is None
    assert len(send.calls) == 1 and "ADMIN ALERT" in caplog.text


def test_a_connection_that_timed_out_is_tried_again() -> None:
    never_sent = TimedOut()
    never_sent.__cause__ = httpx.ConnectTimeout("no connection")
    clock, send = Clock(), failing(1, never_sent)
    assert asyncio.run(deliver(send, "reply", Retry(), clock.sleep, clock)) == "sent"


def test_a_refused_request_is_dropped_and_a_bounded_retry_gives_up() -> None:
    clock = Clock()
    refused = failing(1, BadRequest("Chat not found"))
    assert asyncio.run(deliver(refused, "reply", Retry(), clock.sleep, clock)) is None
    down = failing(10, NetworkError("Bad Gateway"))
    assert asyncio.run(deliver(down, "typing", Retry(attempts=2), clock.sleep, clock)) is None
    assert len(down.calls) == 2


def update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, "private")
    return Update(update_id, message=Message(update_id, None, chat, text="hi"))  # type: ignore[arg-type]


def test_one_chat_in_order_while_another_goes_on() -> None:
    done: list[tuple[int, int]] = []

    async def handle(chat: int, n: int, gate: asyncio.Event | None) -> None:
        if gate is not None:
            await gate.wait()  # this chat is waiting out flood control
        done.append((chat, n))

    async def scenario() -> None:
        processor, gate = PerChatUpdates(), asyncio.Event()
        tasks = [
            asyncio.create_task(processor.process_update(update(1, 10), handle(10, 1, gate))),
            asyncio.create_task(processor.process_update(update(2, 10), handle(10, 2, None))),
            asyncio.create_task(processor.process_update(update(3, 20), handle(20, 1, None))),
        ]
        while (20, 1) not in done:
            await asyncio.sleep(0)
        assert done == [(20, 1)], "the other chat was answered; chat 10's second update waits for its first"
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    assert done == [(20, 1), (10, 1), (10, 2)]
