"""`make test-scale`: 50 conversations at once on the scale-out topology (tests/scale/topology.py).

Each visitor walks through the qualification form; its turns alternate between the two Rasa replicas (REST
straight to each replica's port), so consecutive messages of one conversation are handled by different
servers sharing the PostgreSQL tracker store and the Redis lock store. Afterwards it prints and checks:
every message each visitor sent is in its tracker (PostgreSQL) once and in order, each transcript line was
copied once by the two copiers, each conversation wrote one lead, and each lead's Telegram card reached the
fake Bot API once although two notifiers deliver the outbox. ``EMBUDO_SCALE_CONVERSATIONS`` sets the number.
Also: one visitor writing to both replicas at once is refused past the per-sender rate of both together.
"""

import asyncio
import json
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from crm_core.db import unit_of_work
from crm_core.models import Message, Notification, NotificationChannel
from crm_core.people.reps import add_rep
from crm_core.sales.leads import list_leads
from crm_core.schemas import NewRep
from tests.fake_telegram import FakeTelegram
from tests.scale.topology import SENDER_PER_MINUTE, Topology, running_topology

pytestmark = pytest.mark.skipif(
    not os.environ.get("EMBUDO_TEST_POSTGRES_URL"), reason="needs PostgreSQL: make test-scale"
)
CONVERSATIONS = int(os.environ.get("EMBUDO_SCALE_CONVERSATIONS", "50"))
REPS = 5
FIRST_CHAT = 910_000
# The form in the order the bot asks, a few wordings each (none in data/nlu_*.yml: tests/unit/test_bot_data.py).
FORM: list[list[str]] = [
    ["hello there, good evening", "hi folks, good day to you", "hello, greetings from our office"],
    [
        "we want a website chat helper that sorts serious buyers from casual browsers",
        "our team needs a bot that vets the prospects coming from the pricing page",
        "we are after a chatbot that qualifies inbound visitors for our sales reps",
    ],
    ["around 30k dollars per year", "we set aside about 22,000 USD", "close to 35k dollars"],
    [
        "I head sales and the sign-off is mine",
        "I am the CEO and I make the decision",
        "I own the business so I decide on this",
    ],
    ["within the next two weeks", "we would like it live in 20 days", "in about ten days"],
    ["Copperleaf Studio", "Northgate Freight", "Mossbank Dental"],
    ["Lena Okafor", "Tomas Brennick", "Ines Valcourt"],
    ["lena{n}@copperleaf.example", "t.brennick{n}@northgate.example", "ines{n}@mossbank.example"],
    ["/affirm"],
]


@dataclass
class Drive:
    sent: dict[str, list[str]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    per_replica: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


async def visitor(http: httpx.AsyncClient, topology: Topology, sender: str, n: int, out: Drive) -> None:
    rng = random.Random(n)
    out.sent[sender] = []
    for turn, variants in enumerate(FORM):
        message = rng.choice(variants).format(n=n)
        replica = topology.rasa_urls[(n + turn) % len(topology.rasa_urls)]
        out.sent[sender].append(message)
        started = time.perf_counter()
        try:
            response = await http.post(
                f"{replica}/webhooks/rest/webhook", json={"sender": sender, "message": message}
            )
            response.raise_for_status()
            replies = response.json()
        except httpx.HTTPError as error:
            out.errors[type(error).__name__] += 1
            return
        out.latencies.append(time.perf_counter() - started)
        out.per_replica[replica] += 1
        if not replies:
            out.errors["turn without a reply"] += 1


async def drive(topology: Topology) -> Drive:
    out = Drive()
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as http:
        await asyncio.gather(
            *(visitor(http, topology, f"scale-{n:03d}", n, out) for n in range(CONVERSATIONS))
        )
    out.seconds = time.perf_counter() - started
    return out


def tracker_messages(tracker_url: str) -> dict[str, list[str]]:
    """Each conversation's user messages, in the order the tracker store holds them."""
    engine = create_engine(tracker_url)
    said: dict[str, list[str]] = {}
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT sender_id, data FROM events WHERE type_name = 'user' ORDER BY id")
        )
        for sender, data in rows:
            said.setdefault(sender, []).append(json.loads(data).get("text") or "")
    engine.dispose()
    return said


def message_events(tracker_url: str) -> int:
    engine = create_engine(tracker_url)
    with engine.connect() as connection:
        count = connection.scalar(text("SELECT count(*) FROM events WHERE type_name IN ('user', 'bot')"))
    engine.dispose()
    return int(count or 0)


def event_counts(sent: dict[str, list[str]], stored: dict[str, list[str]]) -> dict[str, int]:
    """Messages lost (sent, not stored), duplicated (stored more often than sent), and conversations whose
    stored order differs from the order sent."""
    lost = duplicated = reordered = 0
    for sender, messages in sent.items():
        held = stored.get(sender, [])
        want, have = Counter(messages), Counter(held)
        lost += sum((want - have).values())
        duplicated += sum((have - want).values())
        if want == have and held != messages:
            reordered += 1
    return {"lost": lost, "duplicated": duplicated, "reordered": reordered}


def once(counts: Counter[int], expected: list[int]) -> dict[str, int]:
    return {
        "once": sum(1 for key in expected if counts[key] == 1),
        "none": sum(1 for key in expected if counts[key] == 0),
        "more than once": sum(1 for key in expected if counts[key] > 1),
    }


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, FakeTelegram]]:
    fake = FakeTelegram()
    running = fake.serve()
    workdir: Path = tmp_path_factory.mktemp("scale")
    try:
        with running_topology(workdir, fake.base_url) as topology:
            with unit_of_work(topology.crm_url) as session:
                for index in range(REPS):
                    add_rep(
                        session,
                        NewRep(
                            name=f"Rep {index + 1}",
                            languages=["en"],
                            telegram_chat_id=FIRST_CHAT + index,
                            capacity=CONVERSATIONS,
                        ),
                    )
            yield topology, fake
    finally:
        running.stop()


def test_the_balancer_fronts_two_of_each(world: tuple[Topology, FakeTelegram]) -> None:
    topology, _ = world
    for _ in range(4):  # round robin over both web processes
        assert httpx.get(f"{topology.balancer_web_url}/healthz").is_success
    reply = httpx.post(
        f"{topology.balancer_rasa_url}/webhooks/rest/webhook",
        json={"sender": "through-the-balancer", "message": "hello there, good evening"},
        timeout=60,
    )
    assert reply.is_success and reply.json(), reply.text
    api = httpx.get(f"{topology.balancer_rasa_url}/status", params={"token": topology.rasa_token})
    assert api.status_code == 404  # Rasa's HTTP API is not behind the public front


def test_conversations_alternating_between_replicas_lose_nothing(
    world: tuple[Topology, FakeTelegram],
) -> None:
    topology, fake = world
    run = asyncio.run(drive(topology))
    turns = len(run.latencies)
    ordered = sorted(run.latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0
    print(
        f"\n{CONVERSATIONS} conversations, {turns} turns in {run.seconds:.1f} s ({turns / run.seconds:.1f} msg/s);"
        f" per turn p50 {statistics.median(ordered) * 1000 if ordered else 0:.0f} ms, p95 {p95 * 1000:.0f} ms;"
        f" turns per replica {dict(run.per_replica)}; errors {dict(run.errors) or 0}"
    )
    events = event_counts(run.sent, tracker_messages(topology.tracker_url))
    print(f"tracker events (PostgreSQL) vs sent: {events}")

    with unit_of_work(topology.crm_url) as session:
        leads = [lead for lead in list_leads(session) if lead.conversation_id in run.sent]
    per_conversation = Counter(lead.conversation_id for lead in leads)
    leads_once = {
        "once": sum(1 for s in run.sent if per_conversation[s] == 1),
        "none": sum(1 for s in run.sent if per_conversation[s] == 0),
        "more than once": sum(1 for s in run.sent if per_conversation[s] > 1),
    }
    print(f"leads per conversation: {leads_once}")

    def cards_settled() -> bool:
        with unit_of_work(topology.crm_url) as session:
            open_rows = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.channel == NotificationChannel.TELEGRAM,
                    Notification.delivered_at.is_(None),
                    Notification.failed_at.is_(None),
                )
            )
            return open_rows == 0

    wait_for(cards_settled, "every Telegram card delivered or given up")
    lead_ids = [lead.id for lead in leads]
    cards = Counter(
        lead_id
        for call in fake.sent("sendMessage")
        for lead_id in lead_ids
        if f"#{lead_id}\n" in str(call.get("text"))
    )
    cards_once = once(cards, lead_ids)
    print(f"Telegram cards per lead (two notifiers): {cards_once}")

    events_to_copy = message_events(topology.tracker_url)
    wait_for(lambda: _copied(topology) >= events_to_copy, "transcripts copied", timeout=60)
    copied = _copied(topology)
    print(f"transcript lines: {events_to_copy} message events, {copied} copied (two copiers)")

    assert not run.errors, topology.log_tail()
    assert events == {"lost": 0, "duplicated": 0, "reordered": 0}
    assert leads_once == {"once": CONVERSATIONS, "none": 0, "more than once": 0}, topology.log_tail()
    assert cards_once == {"once": len(lead_ids), "none": 0, "more than once": 0}
    assert copied == events_to_copy


def test_the_replicas_count_one_senders_rate_together(world: tuple[Topology, FakeTelegram]) -> None:
    """One visitor's messages all at once, half to each replica: counted apart, neither would refuse any
    (7 each, under 12). The rate is checked as each request arrives, before Rasa's turn, so the answer does
    not depend on how long the accepted turns take."""
    topology, _ = world

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=120) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        f"{topology.rasa_urls[turn % len(topology.rasa_urls)]}/webhooks/rest/webhook",
                        json={"sender": "scale-rate", "message": f"hello there, good evening, number {turn}"},
                    )
                    for turn in range(SENDER_PER_MINUTE + 2)
                )
            )

    replies = asyncio.run(burst())
    statuses = Counter(reply.status_code for reply in replies)
    print(f"one sender, {len(replies)} messages at once over both replicas: {dict(statuses)}")
    assert statuses == {200: SENDER_PER_MINUTE, 429: 2}, topology.log_tail()
    assert {reply.json()["error"] for reply in replies if reply.status_code == 429} == {"too_fast"}


def _copied(topology: Topology) -> int:
    with unit_of_work(topology.crm_url) as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)
