"""Property-based fuzzing of the chat channels on the real stack (hypothesis): the REST channel, the socket.io
channel and the Telegram gateway's update handling get unicode of every plane, 100 KB messages, control
characters, broken JSON, SQL and HTML fragments, wrong types and other channels' sender ids. Nothing may
answer 5xx, crash or go silent, and nothing of a refused input may be stored in the tracker or the CRM.

Over 10,000 inputs in all, quickly: the limits are tight here, so most inputs are refused before Rasa
(cheap); the few accepted ones (at most the per-minute rates) cost an NLU turn each.
"""

import json
import os
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text

from bot.telegram.texts import TEXTS
from crm_core.chats.transcripts import sync_transcripts
from crm_core.db import unit_of_work
from crm_core.models import Message
from rasa_channels.wording import OFFER, REFUSALS
from tests.fake_telegram import FakeTelegram
from tests.harness import APP_PYTHON, ROOT, Stack, running_stack
from tests.socket_chat import SocketChat

pytestmark = pytest.mark.integration

MAX_CHARS = 2000  # the default
ENGINE_IO_LIMIT = 1_000_000  # bytes in one socket.io frame (python-engineio's max_http_buffer_size)
LIMITS = {"EMBUDO_CHAT_SENDER_PER_MINUTE": "6", "EMBUDO_CHAT_ADDRESS_PER_MINUTE": "10"}
REFUSED_TEXTS = {text for wording in REFUSALS.values() for text in wording.values()}
FAILED_TURN = OFFER["en"]  # what the failsafe says when a turn failed (rasa_channels/failsafe.py)
FUZZ = settings(
    database=None,
    deadline=None,
    derandomize=True,  # the same inputs every run: a failure can be rerun
    suppress_health_check=list(HealthCheck),
)

FRAGMENTS = [
    "'; DROP TABLE leads; --", "1 OR 1=1", "\" UNION SELECT password FROM users --", "%' AND 1=0 --",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "]]></x><!--", "{{7*7}}", "${jndi:x}",
    "/greet", '/inform{"email": "x@evil.example"}', "/change_language{\"language\": \"'\"}", "../../etc/passwd",
    "\u202eevil", "\ufeff", "a\u0000b", "\x1b[2J", "\r\n\r\n", "null", "[]", "{}",
]  # fmt: skip


def planes() -> st.SearchStrategy[str]:
    """Text from one of Unicode's 17 planes (control characters and unassigned code points included)."""
    return st.integers(0, 16).flatmap(
        lambda plane: st.text(
            st.characters(min_codepoint=plane * 0x10000, max_codepoint=plane * 0x10000 + 0xFFFF),
            min_size=1,
            max_size=30,
        )
    )


def huge() -> st.SearchStrategy[str]:
    """Up to 100 KB, built by repetition (hypothesis would take long to draw it character by character)."""
    return st.builds(
        lambda unit, size: (unit * (size // len(unit) + 1))[:size],
        st.text(min_size=1, max_size=8),
        st.integers(MAX_CHARS + 1, 100_000),
    )


MESSAGES = st.one_of(
    st.text(max_size=40),
    planes(),
    st.sampled_from(FRAGMENTS),
    st.builds(lambda a, b: a + b, st.sampled_from(FRAGMENTS), planes()),
    st.text(st.characters(categories=["Cc", "Cs", "Co", "Cn", "Zl", "Zp"]), min_size=1, max_size=10),
    huge(),
)
VALID_SENDERS = st.sampled_from(["fuzz-a", "fuzz-b", "fuzz-c"])
SENDERS = st.one_of(
    VALID_SENDERS,
    st.builds(lambda n: f"telegram-{n}", st.integers()),
    st.builds(lambda s: f"Telegram-{s}", st.text(max_size=5)),
    st.text(max_size=20),
    st.sampled_from(["", "../x", "a/b", "x" * 129, "fuzz a"]),
    st.none(),
    st.integers(),
    st.lists(st.integers(), max_size=2),
)
METADATA = st.one_of(
    st.none(),
    st.dictionaries(
        st.text(max_size=8), st.one_of(st.text(max_size=20), st.integers(), st.none()), max_size=3
    ),
    st.builds(lambda n: {"page": "x" * n}, st.integers(7_000, 120_000)),
    st.text(max_size=10),
    st.integers(),
)


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()  # ASCII escapes: lone surrogates travel as \\ud800, as any client may


REST_BODIES = st.one_of(
    st.fixed_dictionaries(
        {"sender": SENDERS, "message": st.one_of(MESSAGES, st.none(), st.integers())},
        optional={"metadata": METADATA, "input_channel": st.sampled_from(["telegram", "socketio", "rest"])},
    ).map(lambda body: (body, json_bytes(body))),
    st.binary(max_size=100).map(lambda raw: (None, raw)),
    st.builds(lambda body, cut: (None, json_bytes(body)[:cut]), st.fixed_dictionaries({"sender": VALID_SENDERS, "message": MESSAGES}), st.integers(1, 30)),
    st.one_of(st.lists(st.integers(), max_size=3), st.text(max_size=10), st.none(), st.integers()).map(
        lambda value: (value, json_bytes(value))
    ),
)  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("channel-fuzz"), env=LIMITS) as stack:
        yield stack


class Ledger:
    """What the fuzzers sent, per conversation: accepted or refused."""

    def __init__(self) -> None:
        self.accepted: set[tuple[str, str]] = set()
        self.refused: set[tuple[str, str]] = set()
        self.count = 0

    def record(self, sender: Any, message: Any, accepted: bool) -> None:
        self.count += 1
        if isinstance(sender, str) and isinstance(message, str):
            (self.accepted if accepted else self.refused).add((sender, message))

    def assert_nothing_refused_was_stored(self, stack: Stack) -> None:
        engine = create_engine(stack.events_url)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT sender_id, data FROM events WHERE type_name = 'user'"))
            stored = {(sender, json.loads(data).get("text")) for sender, data in rows}
        engine.dispose()
        with unit_of_work(stack.crm_url) as session:
            sync_transcripts(session, stack.events_url)
            stored |= {(m.conversation.sender_id, m.text) for m in session.scalars(select(Message))}
        leaked = (self.refused - self.accepted) & stored
        assert not leaked, f"refused inputs were stored: {sorted(leaked)[:5]}"


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


def test_the_rest_channel_under_fuzz(stack: Stack, ledger: Ledger) -> None:
    url = f"{stack.rasa_url}/webhooks/rest/webhook"

    @given(REST_BODIES)
    def post(case: tuple[Any, bytes]) -> None:
        body, raw = case
        answer = stack.http.post(url, content=raw, headers={"content-type": "application/json"})
        assert answer.status_code < 500, (raw[:200], answer.text[:200])
        reply = answer.json()
        fields = body if isinstance(body, dict) else {}
        sender, message = fields.get("sender"), fields.get("message")
        if answer.status_code == 200:
            assert isinstance(reply, list) and isinstance(sender, str) and isinstance(message, str)
            assert len(message) <= MAX_CHARS and not sender.lower().startswith("telegram-")
            assert FAILED_TURN not in [r.get("text") for r in reply], f"the turn failed on {message!r}"
        else:
            assert reply["message"] in REFUSED_TEXTS
        ledger.record(sender, message, answer.status_code == 200)

    settings(FUZZ, max_examples=5500)(post)()


def test_the_socketio_channel_under_fuzz(stack: Stack, ledger: Ledger) -> None:
    chat = SocketChat(stack.rasa_url)
    own = [chat.session("fuzz-socket")]  # a socket writes only into the session it was confirmed last
    sessions = st.one_of(st.sampled_from(own), SENDERS)

    @given(MESSAGES, sessions, METADATA, st.booleans())
    def send(message: str, session: Any, metadata: Any, as_json_text: bool) -> None:
        custom = json.dumps(metadata) if as_json_text else metadata
        # nothing to read (as clients send when the chat opens): no answer at all
        if not message.strip() and not must_refuse(message):
            chat.emit("user_uttered", {"message": message, "session_id": own[0], "customData": {}})
            assert chat.event(timeout=0.5) is None
            ledger.record(own[0], message, False)
            return
        data = {"message": message, "session_id": session, "customData": custom}
        if len(json.dumps(["user_uttered", data])) > ENGINE_IO_LIMIT:  # Engine.IO closes such a socket
            throwaway = SocketChat(stack.rasa_url)
            throwaway.emit("user_uttered", data)
            assert throwaway.event(timeout=10) is None and not throwaway.open
            ledger.record(session, message, False)
            return
        chat.emit("user_uttered", data)
        first = chat.event(timeout=10)  # a refusal comes at once; a turn may take a few seconds
        while first is not None and first[0] != "bot_uttered":
            first = chat.event(timeout=10)
        refused = first is not None and first[1].get("text") in REFUSED_TEXTS
        if not refused:  # a turn the bot answered (or kept silent on): let its replies finish
            replies = [first[1] if first else {}, *chat.drain(quiet=3.0)]
            assert FAILED_TURN not in [r.get("text") for r in replies], f"the turn failed on {message!r}"
            assert session in own and len(message) <= MAX_CHARS, (session, message[:100])
        ledger.record(session, message, not refused)

    settings(FUZZ, max_examples=4500)(send)()
    for frame in ['42["user_uttered", {"message": ', "42[1, 2, 3]", "42", '42"x"', "4{}", "9", "42[null]"]:
        chat.socket.send(frame)
    ledger.count += 7
    fresh = SocketChat(stack.rasa_url)  # the server took all of it and still talks
    session = fresh.session("fuzz-socket-after")
    assert fresh.say(session, "hello")["text"]
    chat.close(), fresh.close()


def telegram_updates(fake: FakeTelegram) -> st.SearchStrategy[dict[str, Any]]:
    """Updates as Telegram sends them (the Bot API's shapes), with contents from the fuzz strategies."""
    users = st.builds(
        lambda uid, code: fake.user(uid, "Fuzz", code),
        st.sampled_from([81001, 81002, -1001234]),
        st.one_of(st.none(), st.sampled_from(["en", "es", "pt-BR"]), st.text(max_size=5)),
    )
    texts = st.one_of(MESSAGES, st.builds(lambda c, a: f"/{c} {a}", st.sampled_from(["start", "help", "language", "handback", "settings", "nope"]), MESSAGES))  # fmt: skip

    def message(user: dict[str, Any], body: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": body}
        if body.startswith("/"):
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(body.split(" ")[0])}]
        return {"message": fake._message(user, **content)}

    def contact(user: dict[str, Any], phone: str, owner: int | None) -> dict[str, Any]:
        shared = {"phone_number": phone, "first_name": "Fuzz", "user_id": owner}
        return {"message": fake._message(user, contact=shared)}

    def press(user: dict[str, Any], data: str) -> dict[str, Any]:
        sent = {"message_id": 1, "date": 0, "chat": {"id": user["id"], "type": "private"}, "text": "?"}
        return {
            "callback_query": {"id": "1", "from": user, "chat_instance": "1", "data": data, "message": sent}
        }

    data = st.one_of(st.text(max_size=64), st.sampled_from(["lang:es", "lang:'\"", "accept:1", "pass:99999999999999999999", "takeover:0"]))  # fmt: skip
    return st.one_of(
        st.builds(message, users, texts),
        st.builds(contact, users, st.one_of(st.text(max_size=30), st.sampled_from(FRAGMENTS)), st.one_of(st.none(), st.integers())),
        st.builds(press, users, data),
    )  # fmt: skip


def test_the_telegram_gateway_under_fuzz(stack: Stack, ledger: Ledger, tmp_path: Path) -> None:
    fake = FakeTelegram()
    running = fake.serve()
    env = {
        **os.environ,
        "EMBUDO_DATABASE_URL": stack.crm_url,
        "EMBUDO_RASA_API_URL": stack.rasa_url,
        "EMBUDO_RASA_API_TOKEN": stack.rasa_token,
        "EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
        "EMBUDO_TELEGRAM_API_BASE_URL": fake.base_url,
        "EMBUDO_TELEGRAM_RASA_URL": stack.rasa_url,
        "EMBUDO_TELEGRAM_POLL_TIMEOUT": "1",
        "EMBUDO_TELEGRAM_PENDING_DIR": str(tmp_path / "pending-replies"),
    }
    log_path = tmp_path / "gateway.log"
    gateway = subprocess.Popen(
        [str(APP_PYTHON), "-m", "bot.telegram.gateway"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    sentinel = fake.user(89999, "Sentinel", "en")
    try:
        fake.wait_for(lambda: fake.sent("setMyCommands"), 60, "the gateway to start")

        @given(st.lists(telegram_updates(fake), min_size=1, max_size=30))
        def handle(updates: list[dict[str, Any]]) -> None:
            for update in updates:
                fake._push(**update)
                ledger.count += 1
                body = (update.get("message") or {}).get("text")
                if isinstance(body, str) and must_refuse(body):
                    chat = update["message"]["chat"]["id"]
                    ledger.refused.add((f"telegram-{chat}", body))
            answered = len(fake.sent(chat_id=sentinel["id"]))
            fake.user_says(sentinel, "/help")  # updates are handled in order: its answer comes after theirs
            fake.wait_for(lambda: len(fake.sent(chat_id=sentinel["id"])) > answered, 60, "the gateway")
            assert gateway.poll() is None

        settings(FUZZ, max_examples=80)(handle)()
    finally:
        gateway.terminate()
        gateway.wait(timeout=20)
        running.stop()
    log = log_path.read_text(errors="replace")
    assert "error while handling an update" not in log, log[-3000:]
    sent = [str(m.get("text")) for m in fake.sent()]
    assert TEXTS["unavailable"]["en"] not in sent, log[-3000:]  # what the gateway says when Rasa fails
    assert FAILED_TURN not in sent, log[-3000:]
    assert any(line in REFUSED_TEXTS for line in sent)  # the channel's refusals reached the visitors


def must_refuse(message: str) -> bool:
    """The documented rule (README "Limits"): too long, or a control character other than tab / newline."""
    unreadable = any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in message)
    return len(message) > MAX_CHARS or unreadable


def test_nothing_refused_was_stored_and_enough_was_tried(stack: Stack, ledger: Ledger) -> None:
    assert ledger.count >= 10_000
    ledger.assert_nothing_refused_was_stored(stack)
