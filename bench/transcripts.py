"""Admin transcript search at scale: seeds conversations with messages, slots and leads, then times the
transcript list with each kind of filter, the drop-off report and a 50-transcript export.

Run `python bench/transcripts.py [--conversations N] [--url DATABASE_URL]` (default: 20,000 conversations of
10 messages on a temporary SQLite file; under scripts/with-postgres, `--url "$EMBUDO_TEST_POSTGRES_URL"`-style
URLs of an empty database work too). Prints p50/p95 over a few runs; asserts nothing.
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from crm_core.chats.transcript_search import (
    FORM_QUESTIONS,
    SlotCondition,
    TranscriptFilter,
    drop_off,
    export_csv,
    search_transcripts,
)
from crm_core.db import get_engine, unit_of_work, upgrade_database
from crm_core.models import Contact, Conversation, Lead, Message

WORDS = [
    "price",
    "demo",
    "budget",
    "team",
    "crm",
    "bot",
    "support",
    "shop",
    "website",
    "integration",
    "month",
    "year",
    "help",
]


def seed(url: str, conversations: int, per_conversation: int) -> None:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    engine = get_engine(url)
    with engine.begin() as connection:
        leads = conversations // 3
        connection.execute(insert(Contact), [{"email": f"c{i}@example.com"} for i in range(leads)])
        connection.execute(
            insert(Lead),
            [
                {
                    "contact_id": i + 1,
                    "qualification": rng.choice(["suspect", "mql", "sql"]),
                    "temperature": rng.choice(["hot", "warm", "cold"]),
                    "policy_version": "bench",
                    "language": rng.choice(["en", "es"]),
                    "source": rng.choice(["ads", "newsletter", None]),
                    "stage": "new",
                    "authority": "unknown",
                    "reasons": [],
                    "created_at": start,
                    "updated_at": start,
                }
                for i in range(leads)
            ],
        )
        rows = []
        for i in range(conversations):
            asked = rng.randrange(len(FORM_QUESTIONS) + 1)
            slots: dict[str, object] = {q: "x" for q in FORM_QUESTIONS[:asked]}
            slots["requested_slot"] = FORM_QUESTIONS[asked] if asked < len(FORM_QUESTIONS) else None
            slots["budget_amount"] = str(rng.choice([500, 5000, 20000, 80000])) if asked > 1 else "unknown"
            slots["timeline_days"] = rng.choice([7, 30, 90, 365])
            rows.append(
                {
                    "channel": rng.choice(["rest", "socketio", "telegram"]),
                    "sender_id": f"s{i}",
                    "lead_id": i + 1 if i < leads else None,
                    "started_at": start + timedelta(minutes=i),
                    "slots": slots,
                }
            )
        connection.execute(insert(Conversation), rows)
        event_id = 0
        batch = []
        for i in range(conversations):
            for j in range(per_conversation):
                event_id += 1
                batch.append(
                    {
                        "conversation_id": i + 1,
                        "role": "visitor" if j % 2 == 0 else "bot",
                        "text": " ".join(rng.choices(WORDS, k=8)),
                        "intent": "inform" if j % 2 == 0 else None,
                        "confidence": 0.9 if j % 2 == 0 else None,
                        "extra": {},
                        "sent_at": start + timedelta(minutes=i, seconds=j),
                        "rasa_event_id": event_id,
                    }
                )
            if len(batch) >= 20_000:
                connection.execute(insert(Message), batch)
                batch = []
        if batch:
            connection.execute(insert(Message), batch)


def timed(label: str, run: Callable[[], object], repeat: int = 5) -> None:
    times = []
    for _ in range(repeat):
        begun = time.perf_counter()
        run()
        times.append((time.perf_counter() - begun) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(f"  {label:<52} p50 {statistics.median(times):8.1f} ms   p95 {p95:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=10, help="messages per conversation")
    parser.add_argument("--url", help="an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    upgrade_database(url)
    begun = time.perf_counter()
    seed(url, args.conversations, args.messages)
    if get_engine(url).dialect.name == "postgresql":  # fresh statistics, as autovacuum would soon give
        with get_engine(url).connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    total = args.conversations * args.messages
    print(f"{get_engine(url).dialect.name}: {args.conversations:,} conversations, {total:,} messages")
    print(f"  seeding {time.perf_counter() - begun:.1f} s")
    cases = {
        "list page 1, no filter": TranscriptFilter(),
        "list page 1, qualification + channel": TranscriptFilter(qualification="sql", channel="rest"),
        "list page 1, free text in messages": TranscriptFilter(text="integration demo"),
        "list page 1, slot budget >= 10000": TranscriptFilter(slots=[SlotCondition.parse("budget >= 10000")]),
        "list page 1, date range (one week)": TranscriptFilter(
            since=datetime(2026, 1, 3).date(), until=datetime(2026, 1, 9).date()
        ),
    }
    with unit_of_work(url) as session:
        for label, wanted in cases.items():
            timed(label, lambda wanted=wanted: search_transcripts(session, wanted))  # type: ignore[misc]
        timed("drop-off report (all conversations)", lambda: drop_off(session), repeat=3)
        page = [item.conversation_id for item in search_transcripts(session, TranscriptFilter()).items]
        timed("CSV export of one page (50 transcripts)", lambda: export_csv(session, page), repeat=3)
    print(json.dumps({"conversations": args.conversations, "messages": total}))


if __name__ == "__main__":
    main()
