"""Telegram faults against the real processes: the gateway and the notifier, run as in production, talk to
the fake Bot API (tests/fake_telegram.py), which goes down, answers slowly, answers 429 and 5xx, or holds an
answer while the notifier is SIGKILLed between sending a card and recording it.

Each scenario prints what a person would count — visitor messages lost / duplicated (Rasa's tracker holds
what the bot said; the fake holds what reached Telegram) and cards lost / duplicated — and asserts zeros.
Waiting out retries is time-scaled: ``EMBUDO_FAULTS_TIME_SCALE`` (0.1 by default; 1 is real time) scales the
10-minute outage and the retry cap and alert delay it is measured against; the 30 s outage is real time.
"""

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_core.db import unit_of_work
from crm_core.models import Notification, NotificationChannel, Rep, Stage
from crm_core.people.reps import add_rep
from crm_core.sales.lifecycle import assign_to
from crm_core.schemas import NewRep
from tests.fake_telegram import FakeTelegram
from tests.faults.conftest import TELEGRAM_ROWS
from tests.harness import APP_PYTHON, ROOT, Stack, running_stack
from tests.unit.helpers import make_lead

pytestmark = pytest.mark.integration

SCALE = float(os.environ.get("EMBUDO_FAULTS_TIME_SCALE", "0.1"))
REP_CHAT, ADMIN_CHAT = 91001, 91002


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("telegram-faults")) as stack:
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Rosa Diaz", languages=["en"], telegram_chat_id=REP_CHAT))
            add_rep(
                session, NewRep(name="Boss", languages=["en"], is_admin=True, telegram_chat_id=ADMIN_CHAT)
            )
        yield stack


class Process:
    """One of our processes (``python -m MODULE``), startable again after a kill."""

    def __init__(self, module: str, env: dict[str, str], log: Path) -> None:
        self.module, self.env, self.log = module, env, log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        output = self.log.open("ab")
        self.popen = subprocess.Popen(
            [str(APP_PYTHON), "-m", self.module],
            cwd=ROOT,
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(timeout=20)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def telegram(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FakeTelegram, Process, Process]]:
    fake = FakeTelegram()
    running = fake.serve()
    logs = tmp_path_factory.mktemp("telegram-faults-logs")
    env = {
        **os.environ,
        "EMBUDO_DATABASE_URL": stack.crm_url,
        "EMBUDO_EVENTS_URL": stack.events_url,
        "EMBUDO_RASA_API_URL": stack.rasa_url,
        "EMBUDO_RASA_API_TOKEN": stack.rasa_token,
        "EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
        "EMBUDO_TELEGRAM_API_BASE_URL": fake.base_url,
        "EMBUDO_TELEGRAM_RASA_URL": stack.rasa_url,
        "EMBUDO_TELEGRAM_POLL_TIMEOUT": "1",
        "EMBUDO_TELEGRAM_PENDING_DIR": str(logs / "pending-replies"),
        # The production settings, time-scaled (a cap of 60 s, an alert after 5 min).
        "EMBUDO_TELEGRAM_RETRY_CAP_SECONDS": str(60 * SCALE),
        "EMBUDO_TELEGRAM_ALERT_AFTER_SECONDS": str(300 * SCALE),
        "EMBUDO_NOTIFY_BACKOFF_SECONDS": "0.5",
        "EMBUDO_NOTIFY_BACKOFF_CAP_SECONDS": str(60 * SCALE),
        "EMBUDO_NOTIFY_ALERT_AFTER_SECONDS": str(300 * SCALE),
        "EMBUDO_TELEGRAM_READ_TIMEOUT": "15",
        "EMBUDO_NOTIFY_LEASE_SECONDS": "20",  # longer than a send may take (the read timeout)
    }
    gateway = Process("bot.telegram.gateway", env, logs / "gateway.log")
    notifier = Process("bot.notify.worker", env, logs / "notifier.log")
    gateway.start()
    notifier.start()
    try:
        fake.wait_for(lambda: fake.sent("setMyCommands"), 60, "the gateway to start")
        yield fake, gateway, notifier
    finally:
        gateway.stop()
        notifier.stop()
        running.stop()
        for process in (gateway, notifier):
            print(f"--- {process.module}\n{process.text()[-3000:]}")


# --- counting -----------------------------------------------------------------------------------------


def said_by_bot(stack: Stack, chat: int) -> Counter[str]:
    events = stack.tracker(f"telegram-{chat}")["events"]
    return Counter(str(e["text"]) for e in events if e.get("event") == "bot" and e.get("text"))


def delivered(fake: FakeTelegram, chat: int) -> Counter[str]:
    return Counter(str(m.get("text", "")) for m in fake.sent(chat_id=chat))


Counts = tuple[int, int, int]  # lost, duplicated, how many there were to deliver


def visitor_counts(fake: FakeTelegram, stack: Stack, chats: list[int]) -> Counts:
    """Replies Rasa gave that never reached the chat, those that reached it twice, and all it gave."""
    lost = duplicated = total = 0
    for chat in chats:
        expected, got = said_by_bot(stack, chat), delivered(fake, chat)
        lost += sum(max(n - got[text], 0) for text, n in expected.items())
        duplicated += sum(max(got[text] - n, 0) for text, n in expected.items())
        total += sum(expected.values())
    return lost, duplicated, total


def card_counts(fake: FakeTelegram, lead_ids: list[int]) -> Counts:
    sent = [str(m.get("text", "")) for m in fake.sent(chat_id=REP_CHAT)]
    per_lead = [sum(1 for text in sent if f": #{lead_id}\n" in text) for lead_id in lead_ids]
    return sum(1 for n in per_lead if n == 0), sum(n - 1 for n in per_lead if n > 1), len(lead_ids)


def report(fault: str, messages: Counts = (0, 0, 0), cards: Counts = (0, 0, 0)) -> None:
    row = (
        f"{fault:<30} | {messages[0]:>9} | {messages[1]:>8} | {cards[0]:>10} | {cards[1]:>9}"
        f" | {messages[2]} replies, {cards[2]} cards"
    )
    TELEGRAM_ROWS.append(row)  # printed at the end of the run (conftest.py)
    print(row)
    assert messages[:2] == (0, 0) and cards[:2] == (0, 0), row


def visitors_write(fake: FakeTelegram, first_id: int, count: int) -> dict[int, int]:
    """``count`` visitors each greet the bot and state a need, back to back; chat → messages written."""
    chats = {}
    for n in range(count):
        user = fake.user(first_id + n, f"V{n}")
        fake.user_says(user, "hello")
        fake.user_says(user, "we need a chatbot that books appointments for our clinic")
        chats[user["id"]] = 2
    return chats


def answered(stack: Stack, chat: int, written: int) -> bool:
    """Rasa has answered all ``written`` messages of the chat (its turn is over)."""
    events = stack.tracker(f"telegram-{chat}")["events"]
    users = sum(1 for e in events if e.get("event") == "user")
    return users >= written and events[-1].get("name") == "action_listen"


def settle(fake: FakeTelegram, stack: Stack, chats: dict[int, int], timeout: float) -> Counts:
    """Waits until Rasa answered every message and every reply reached its chat (or ``timeout``), then
    until the fake has no request open, and counts."""
    with contextlib.suppress(AssertionError):  # what did not arrive is counted below
        fake.wait_for(
            lambda: (
                all(answered(stack, chat, n) for chat, n in chats.items())
                and visitor_counts(fake, stack, list(chats))[0] == 0
            ),
            timeout,
            "every reply to arrive",
        )
    fake.wait_for(lambda: fake.open_requests == 0, 60, "the fake to have no open request")
    return visitor_counts(fake, stack, list(chats))


def queue_cards(stack: Stack, count: int, need: str | None = None) -> list[int]:
    """``count`` leads handed to Rosa, each with its Telegram card in the outbox."""
    with unit_of_work(stack.crm_url) as session:
        rosa = session.scalars(select(Rep).where(Rep.name == "Rosa Diaz")).one()
        ids = []
        for _ in range(count):
            lead = make_lead(session, Stage.SQL)
            lead.need = need
            assign_to(session, lead.id, rosa.id, by="fault test")
            ids.append(lead.id)
    return ids


def cards_settled(stack: Stack, lead_ids: list[int]) -> bool:
    """Every Telegram card of these leads delivered, or given up as maybe-delivered."""
    with unit_of_work(stack.crm_url) as session:
        rows = session.scalars(
            select(Notification).where(
                Notification.lead_id.in_(lead_ids), Notification.channel == NotificationChannel.TELEGRAM
            )
        ).all()
        return len(rows) == len(lead_ids) and all(r.delivered_at or r.failed_at for r in rows)


def settle_cards(fake: FakeTelegram, stack: Stack, lead_ids: list[int], timeout: float) -> Counts:
    with contextlib.suppress(AssertionError):  # what did not arrive is counted below
        fake.wait_for(lambda: cards_settled(stack, lead_ids), timeout, "every card to be delivered")
    fake.wait_for(lambda: fake.open_requests == 0, 60, "the fake to have no open request")
    return card_counts(fake, lead_ids)


def admin_alerts(stack: Stack) -> list[str]:
    with unit_of_work(stack.crm_url) as session:
        rows = session.scalars(select(Notification).where(Notification.reason.startswith("⚠"))).all()
        return [r.reason for r in rows]


# --- the faults ---------------------------------------------------------------------------------------


def outage(
    telegram: tuple[FakeTelegram, Process, Process], stack: Stack, seconds: float, first_id: int, name: str
) -> None:
    fake = telegram[0]
    # starts as the first reply to a visitor goes out (not a card: the gateway must have replies waiting)
    fake.go_down(seconds, at_next="sendMessage", to_chats=range(first_id, first_id + 3))
    chats = visitors_write(fake, first_id, 3)
    # the cards come during the outage, so that they too wait it out
    fake.wait_for(lambda: time.monotonic() < fake.down_until, 120, "the outage to begin at the first reply")
    leads = queue_cards(stack, 2)
    wait = seconds + 60 * SCALE * 2 + 60
    report(name, settle(fake, stack, chats, wait), settle_cards(fake, stack, leads, wait))


def test_bot_api_down_for_30_s(telegram: tuple[FakeTelegram, Process, Process], stack: Stack) -> None:
    outage(telegram, stack, 30, 81000, "Bot API down 30 s")


def test_bot_api_down_for_10_min_time_scaled(
    telegram: tuple[FakeTelegram, Process, Process], stack: Stack
) -> None:
    gateway = telegram[1]
    alerts_before = len(admin_alerts(stack))
    outage(telegram, stack, 600 * SCALE, 81100, f"Bot API down 10 min (×{SCALE:g})")
    assert "ADMIN ALERT" in gateway.text(), "a reply waiting past alert_after is an admin alert"
    assert len(admin_alerts(stack)) > alerts_before, "so is a card: in the admins' inbox"


def test_bot_api_slow_by_6_s(telegram: tuple[FakeTelegram, Process, Process], stack: Stack) -> None:
    fake, _, _ = telegram
    fake.answer_slowly("sendMessage", 6, times=4)
    chats = visitors_write(fake, 81200, 1)
    leads = queue_cards(stack, 1)
    report("Bot API slow by 6 s", settle(fake, stack, chats, 120), settle_cards(fake, stack, leads, 120))


def test_bot_api_answers_429_and_other_chats_go_on(
    telegram: tuple[FakeTelegram, Process, Process], stack: Stack
) -> None:
    fake, _, _ = telegram
    slow_chat, other = fake.user(81300, "Slow"), fake.user(81301, "Other")
    fake.fail("sendMessage", times=1, status=429, retry_after=8, chat_id=slow_chat["id"])
    fake.fail("sendMessage", times=2, status=429, retry_after=2, chat_id=REP_CHAT)
    fake.user_says(slow_chat, "hello")
    fake.wait_for(
        lambda: not [f for f in fake.faults if f.chat_id == slow_chat["id"] and f.remaining], 30, "the 429"
    )
    fake.user_says(other, "hello")
    leads = queue_cards(stack, 1)
    counts = settle(fake, stack, {slow_chat["id"]: 1, other["id"]: 1}, 60)
    chats_in_order = [int(p["chat_id"]) for name, p in fake.calls if name == "sendMessage"]
    assert chats_in_order.index(other["id"]) < chats_in_order.index(slow_chat["id"]), (
        "the other visitor was answered while the first waited out flood control"
    )
    report("Bot API answers 429", counts, settle_cards(fake, stack, leads, 60))


def test_bot_api_answers_5xx(telegram: tuple[FakeTelegram, Process, Process], stack: Stack) -> None:
    fake, _, _ = telegram
    fake.fail("sendMessage", times=3, status=500, retry_after=None)
    fake.fail("sendMessage", times=3, status=502, retry_after=None)
    chats = visitors_write(fake, 81400, 2)
    leads = queue_cards(stack, 2)
    report("Bot API answers 500 / 502", settle(fake, stack, chats, 90), settle_cards(fake, stack, leads, 90))


def test_a_card_with_a_need_over_telegrams_limit_is_cut_not_failed(
    telegram: tuple[FakeTelegram, Process, Process], stack: Stack
) -> None:
    fake, _, _ = telegram
    leads = queue_cards(stack, 1, need="we need a bot that answers every question about our catalogue " * 80)
    counts = settle_cards(fake, stack, leads, 60)
    [card] = [m["text"] for m in fake.sent(chat_id=REP_CHAT) if f": #{leads[0]}\n" in m["text"]] or [""]
    assert "…" in card and f"/console/leads/{leads[0]}" in card
    report("card need of 5,000 characters", cards=counts)


def test_the_notifier_killed_between_send_and_record_sends_no_second_card(
    telegram: tuple[FakeTelegram, Process, Process], stack: Stack
) -> None:
    fake, _, notifier = telegram
    fake.hold_next("sendMessage")
    leads = queue_cards(stack, 1)
    assert fake.held.wait(60), "the notifier sends the card"
    notifier.kill()  # the card reached Telegram; its answer never reached the notifier
    fake.release()
    notifier.start()
    counts = settle_cards(fake, stack, leads, 120)
    assert any("unknown whether delivered" in alert for alert in admin_alerts(stack)), "the admins are told"
    report("notifier SIGKILLed mid-send", cards=counts)


def test_the_gateway_killed_during_an_outage_sends_the_kept_reply_once_after_restart(
    telegram: tuple[FakeTelegram, Process, Process], stack: Stack
) -> None:
    fake, gateway, _ = telegram
    kept = Path(gateway.env["EMBUDO_TELEGRAM_PENDING_DIR"])
    fake.go_down(30, at_next="sendMessage")  # starts as the first reply goes out
    # One message: an update fetched but not yet handled when the gateway is killed is not kept (see README).
    fake.user_says(fake.user(81600, "Kai"), "hello")
    chats = {81600: 1}
    fake.wait_for(
        lambda: any('"waiting"' in path.read_text() for path in kept.glob("*.json")),
        60,
        "a reply waiting out the outage, kept on disk",
    )
    gateway.kill()  # SIGKILL: nothing in memory survives
    gateway.start()  # still during the outage: the restarted gateway waits it out too
    report("gateway SIGKILLed in an outage", settle(fake, stack, chats, 30 + 60 * SCALE * 2 + 60))
    assert list(kept.glob("*.json")) == []  # nothing left to send
