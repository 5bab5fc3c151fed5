"""`make load`: many visitors at a human pace against the full stack on this machine.

100 conversations at once (``--conversations``) for 2 minutes (``--seconds``), half over Rasa's REST channel
and half over its socket.io channel (the widget's protocol: session_request / session_confirm, user_uttered /
bot_uttered, spoken over a plain WebSocket as bench/takeover.py does). Each visitor walks through the
qualification form in wording of its own (kept out of the training data), reads each reply and takes 2–5 s
(random) before the next message; when a conversation ends, the same visitor slot starts a new one, so the
number of open conversations stays the same until the time is up.

A turn's time is from sending the message to its last reply: the REST answer, or on socket.io the last
bot_uttered before the visitor typed again (the replies of one turn come as separate events). Afterwards the
CRM database is read: every conversation that finished the form should have exactly one lead. A capture the
CRM could not take at once is kept and written a moment later by the action server; the reading waits up to
60 s for those and says how many there were.

Then the same visitors, in the same numbers and at the same pace, talk to a bare `rasa init` bot (Rasa's
defaults, no action server: bench/bare_rasa.py) on the same machine, for a baseline measured in the same run
(``--no-baseline`` leaves it out). They all talk over REST there: the bare bot answers some of our messages
with silence, which REST shows at once (an empty answer) and socket.io only as a reply that never comes.

Prints figures only; asserts nothing (issue 17's targets: 0 errors, p95 ≤ 500 ms, every lead written once).
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bare_rasa import bare_model, bare_rasa
from bench.stack import percentile
from crm_core.db import unit_of_work
from crm_core.people.reps import add_rep
from crm_core.sales.leads import list_leads
from crm_core.schemas import NewRep
from tests.harness import running_stack

# The form in the order the bot asks it, with a few ways of saying each answer (none of them is in
# data/nlu_*.yml). The last answer presses the consent button, as the widget does.
FORM: list[list[str]] = [
    ["hello, good morning to you", "good afternoon, hello", "hey there, hello"],
    [
        "we'd like a chat assistant that works out which website visitors deserve a call",
        "our sales people want a bot that screens the enquiries from our contact page",
        "looking for a chatbot to sort inbound prospects before sales picks them up",
    ],
    ["roughly 25k dollars a year", "we put aside around 40,000 USD", "somewhere near 18k dollars"],
    [
        "I lead the sales team and I sign off on it",
        "I'm the COO and the final call is mine",
        "I founded the company, so I'm the one deciding",
    ],
    ["in the next three weeks", "we want it running within 30 days", "ideally in two weeks"],
    ["Brightwater Tiles", "Harbor and Finch", "Quillfeather Labs"],
    ["Dana Whitcombe", "Marco Ruelas", "Priya Castellane"],
    ["dana.w{n}@brightwater.example", "m.ruelas{n}@harborfinch.example", "priya{n}@quillfeather.example"],
    ["/affirm"],
]
TURN_TIMEOUT = 60.0  # a reply later than this is an error


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"REST": [], "socket.io": []})
    errors: Counter[str] = field(default_factory=Counter)
    finished: list[str] = field(default_factory=list)  # conversations that got through the whole form
    started: list[str] = field(default_factory=list)
    last_replies: dict[str, list[str]] = field(default_factory=dict)  # each conversation's latest turn


def script(rng: random.Random, n: int) -> list[str]:
    """One visitor's messages: one wording per step, chosen at random."""
    return [rng.choice(variants).format(n=n) for variants in FORM]


async def think(rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(2.0, 5.0))


async def rest_conversation(
    http: httpx.AsyncClient,
    url: str,
    sender: str,
    turns: list[str],
    rng: random.Random,
    deadline: float,
    out: Results,
    reply_expected: bool,
) -> bool:
    for text in turns:
        if time.monotonic() > deadline:
            return False
        started = time.perf_counter()
        try:
            response = await http.post(url, json={"sender": sender, "message": text}, timeout=TURN_TIMEOUT)
            response.raise_for_status()
            replies = response.json()
            out.last_replies[sender] = [str(r.get("text", r)) for r in replies]
        except httpx.TimeoutException:
            out.errors["REST: no answer in time"] += 1
            return False
        except httpx.HTTPError as error:
            out.errors[f"REST: {type(error).__name__}"] += 1
            return False
        out.latencies["REST"].append(time.perf_counter() - started)
        if not replies and reply_expected:
            out.errors["REST: turn without a reply"] += 1
            return False
        await think(rng)
    return True


class SocketVisitor:
    """One widget session: Engine.IO v4 / Socket.IO v5 text frames over a WebSocket."""

    def __init__(self, socket: ClientConnection, session_id: str) -> None:
        self.socket = socket
        self.session_id = session_id

    @classmethod
    async def open(cls, ws_url: str, session_id: str) -> "SocketVisitor":
        socket = await connect(ws_url, open_timeout=TURN_TIMEOUT, max_size=None)
        visitor = cls(socket, session_id)
        try:
            await socket.recv()  # engine.io open
            await socket.send("40")
            await visitor.next_event("", TURN_TIMEOUT)
            await visitor.emit("session_request", {"session_id": session_id})
            await visitor.next_event("session_confirm", TURN_TIMEOUT)
        except BaseException:
            await socket.close()
            raise
        return visitor

    async def emit(self, event: str, data: dict[str, Any]) -> None:
        await self.socket.send("42" + json.dumps([event, data]))

    async def next_event(self, name: str, timeout: float) -> Any:
        """The data of the next event called ``name`` ("" for the namespace's connect); TimeoutError after
        ``timeout`` seconds. Answers Engine.IO's pings meanwhile."""
        async with asyncio.timeout(timeout):
            while True:
                frame = str(await self.socket.recv())
                if frame == "2":
                    await self.socket.send("3")
                elif name == "" and frame.startswith("40"):
                    return None
                elif frame.startswith("42"):
                    event, *data = json.loads(frame[2:])
                    if event == name:
                        return data[0] if data else None


async def socket_conversation(
    ws_url: str, sender: str, turns: list[str], rng: random.Random, deadline: float, out: Results
) -> bool:
    try:
        visitor = await SocketVisitor.open(ws_url, sender)
    except (OSError, TimeoutError, WebSocketException) as error:
        out.errors[f"socket.io: could not open the session ({type(error).__name__})"] += 1
        return False
    try:
        for text in turns:
            if time.monotonic() > deadline:
                return False
            started = time.perf_counter()
            await visitor.emit("user_uttered", {"message": text, "session_id": sender})
            try:
                said = await visitor.next_event("bot_uttered", TURN_TIMEOUT)
            except TimeoutError:
                out.errors["socket.io: no reply in time"] += 1
                return False
            last = time.perf_counter()
            out.last_replies[sender] = [str((said or {}).get("text", said))]
            while True:  # more replies of this turn, until the visitor has read and typed the next message
                try:
                    said = await visitor.next_event("bot_uttered", rng.uniform(2.0, 5.0))
                    out.last_replies[sender].append(str((said or {}).get("text", said)))
                    last = time.perf_counter()
                except TimeoutError:
                    break
            out.latencies["socket.io"].append(last - started)
        return True
    except WebSocketException as error:
        out.errors[f"socket.io: {type(error).__name__}"] += 1
        return False
    finally:
        await visitor.socket.close()


async def visitor_slot(
    slot: int, rasa_url: str, http: httpx.AsyncClient, deadline: float, out: Results, bare: bool
) -> None:
    """One open conversation after another, until the time is up; even slots over REST, odd over socket.io
    (all over REST for a ``bare`` bot, whose silent turns are no errors)."""
    rng = random.Random(slot)
    await asyncio.sleep(rng.uniform(0, 5))  # visitors arrive over the first seconds, not all at once
    rest_url = f"{rasa_url}/webhooks/rest/webhook"
    ws_url = rasa_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    n = 0
    while time.monotonic() < deadline:
        sender = f"load-{slot}-{n}"
        turns = script(rng, slot * 1000 + n)
        out.started.append(sender)
        if slot % 2 == 0 or bare:
            done = await rest_conversation(http, rest_url, sender, turns, rng, deadline, out, not bare)
        else:
            done = await socket_conversation(ws_url, sender, turns, rng, deadline, out)
        if done:
            out.finished.append(sender)
        elif time.monotonic() < deadline:
            await think(rng)  # after an error, as a visitor would, rather than hammering the server
        n += 1


async def drive(
    rasa_url: str, conversations: int, seconds: float, bare: bool = False
) -> tuple[Results, float]:
    """The visitors against the Rasa server at ``rasa_url``; ``bare``: a bare bot, talked to over REST only,
    whose turns may be answered with no reply (its rules may well stay silent)."""
    out = Results()
    limits = httpx.Limits(max_connections=conversations, max_keepalive_connections=conversations)
    async with httpx.AsyncClient(limits=limits) as http:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(visitor_slot(i, rasa_url, http, deadline, out, bare) for i in range(conversations))
        )
        return out, time.monotonic() - started


def leads_per_conversation(crm_url: str) -> Counter[str]:
    with unit_of_work(crm_url) as session:
        return Counter(
            lead.conversation_id for lead in list_leads(session, limit=1_000_000) if lead.conversation_id
        )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


def turn_figures(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    if not ms:
        return "no turn answered"
    return (
        f"p50 {statistics.median(ms):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, "
        f"p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"
    )


def settled_leads(crm_url: str, finished: list[str], seconds: float = 60) -> tuple[Counter[str], float]:
    """The leads per conversation once every finished conversation has one, or after ``seconds``: a capture
    the CRM could not take at once (SQLite busy past its timeout) is kept on disk and written by the action
    server's background writer a little later (``actions/crm_writes.py``). Also how long that took."""
    started = time.monotonic()
    while True:
        leads = leads_per_conversation(crm_url)
        waited = time.monotonic() - started
        if all(leads[c] for c in finished) or waited > seconds:
            return leads, waited
        time.sleep(1)


def kept_captures(action_log: Path) -> int:
    """How many times the action server had to keep a capture because the CRM could not take it."""
    text = action_log.read_text(errors="replace") if action_log.exists() else ""
    return text.count("the CRM could not take the lead")


def every_turn(out: Results) -> list[float]:
    return [s for seconds in out.latencies.values() for s in seconds]


def report_turns(out: Results, wall: float) -> None:
    every = every_turn(out)
    print(f"turns answered {len(every)} in {wall:.0f} s: {len(every) / wall:.1f} msg/s")
    print(f"per turn: {turn_figures(every)}")
    for channel, seconds in out.latencies.items():
        if seconds:
            print(f"  {channel:<9} {len(seconds):>5} turns: {turn_figures(seconds)}")
    print(
        f"errors {sum(out.errors.values())}" + "".join(f"\n  {n} × {what}" for what, n in out.errors.items())
    )


def report_leads(out: Results, leads: Counter[str]) -> None:
    finished = set(out.finished)
    once = sum(1 for c in finished if leads[c] == 1)
    missing = sorted(c for c in finished if leads[c] == 0)
    twice = sorted(c for c in finished if leads[c] > 1)
    print(
        f"conversations started {len(out.started)}, finished the form {len(finished)}; "
        f"leads written {sum(leads.values())}: exactly one for {once} of the finished, "
        f"none for {len(missing)}, more than one for {len(twice)}"
    )
    for what, senders in (("no lead", missing), ("more than one lead", twice)):
        if senders:
            print(f"  {what}: {', '.join(senders[:10])}{' …' if len(senders) > 10 else ''}")
            for sender in senders[:3]:  # what the bot said last, to see why
                print(f"    {sender}'s last replies: {' / '.join(out.last_replies.get(sender, []))[:300]}")


def side_by_side(ours: tuple[Results, float], bare: tuple[Results, float]) -> None:
    """Embudo's figures over the bare bot's, measured under the same load in this run."""
    print(f"{'ratio Embudo / bare':<32} {'Embudo':>9} {'bare':>9} {'ratio':>7}")
    rows = []
    for share in (0.50, 0.95, 0.99):
        mine, theirs = (
            percentile([s * 1000 for s in every_turn(r)] or [0.0], share) for r, _ in (ours, bare)
        )
        rows.append((f"per turn, p{share * 100:.0f} (ms)", mine, theirs))
    mine, theirs = (len(every_turn(r)) / wall for r, wall in (ours, bare))
    rows.append(("throughput (msg/s)", mine, theirs))
    for label, a, b in rows:
        print(f"{label:<32} {a:9.1f} {b:9.1f} {a / b if b else float('nan'):6.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100, help="open at once (default 100)")
    parser.add_argument(
        "--seconds", type=float, default=120, help="how long visitors keep coming (default 120)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="leave out the bare `rasa init` bot under the same load"
    )
    args = parser.parse_args()
    print(
        f"Load: {args.conversations} conversations at once for {args.seconds:.0f} s, half REST, half socket.io; "
        f"{os.cpu_count()} cores, load average {load_average()}"
    )
    if not args.no_baseline:
        bare_model()  # trained (or found) before anything is measured
    with (
        tempfile.TemporaryDirectory() as workdir,
        running_stack(Path(workdir), follow_transcripts=True) as stack,
    ):
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Load Rep", languages=["en"], capacity=1_000_000))
        ours = asyncio.run(drive(stack.rasa_url, args.conversations, args.seconds))
        at_the_end = leads_per_conversation(stack.crm_url)
        leads, waited = settled_leads(stack.crm_url, ours[0].finished)
        print("Embudo, the full stack:")
        report_turns(*ours)
        report_leads(ours[0], leads)
        late = sum(1 for c in set(ours[0].finished) if leads[c] and not at_the_end[c])
        print(
            f"  of them written after the last turn: {late} (waited {waited:.0f} s); "
            f"captures the CRM could not take at once (kept, written later): {kept_captures(stack.logs / 'actions.log')}"
        )
    if not args.no_baseline:
        with tempfile.TemporaryDirectory() as workdir, bare_rasa(Path(workdir)) as url:
            bare = asyncio.run(drive(url, args.conversations, args.seconds, bare=True))
        print(
            "bare `rasa init` bot, the same visitors, all over REST (no form: it answers as its rules say):"
        )
        report_turns(*bare)
        side_by_side(ours, bare)
    print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
