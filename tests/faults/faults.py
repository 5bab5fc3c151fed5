"""Fault injection on the real stack (tests/harness.py): kill a process and start it again, hold the CRM
database's write lock, and count what a conversation lost. Used by tests/faults/."""

import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from crm_core.db import unit_of_work
from crm_core.sales.leads import list_leads
from tests.harness import ROOT, Stack

# The visitor of every fault: a hot SQL lead, answering whatever the bot asks (Rasa's `requested_slot`).
ANSWERS = {
    "need": "a helpdesk bot for our online store",
    "budget": "we could spend 12 thousand euros",
    "authority": "I own the business",
    "timeline": "in about a month",
    "company": "Lakeshore Cycles",
    "person_name": "Marta Nowak",
    "phone": "+34 600 111 222",
    "consent": "/affirm",
}
EXPECTED = {"qualification": "sql", "authority": "decision_maker", "assigned_rep": "Rosa Diaz"}


@dataclass
class Visitor:
    """One conversation over the REST channel, with every message sent and every reply seen."""

    stack: Stack
    sender: str
    sent: list[str] = field(default_factory=list)
    unanswered: int = 0
    replies: list[str] = field(default_factory=list)  # from the fault on: "visitor › bot" lines
    faulty: bool = False

    def say(self, text: str) -> list[str]:
        replies = [str(r.get("text") or "") for r in self.stack.say(self.sender, text)]
        self.sent.append(text)
        self.unanswered += not replies
        if self.faulty:
            self.replies.append(f"{text!r} › " + (" / ".join(replies) or "(nothing)"))
        return replies

    def asked(self) -> str | None:
        slots = self.stack.tracker(self.sender)["slots"]
        return None if slots.get("lead_saved") else slots.get("requested_slot")

    def answer(self, question: str) -> str:
        """The answer to ``question``; each visitor has their own e-mail (one e-mail is one contact, whose
        open lead a second conversation would update)."""
        return f"{self.sender}@lakeshore.example" if question == "email" else ANSWERS[question]

    def answer_until_done(self, turns: int = 12) -> None:
        """Answers the open question until the form is over (the lead saved, or being saved)."""
        for _ in range(turns):
            question = self.asked()
            if question is None:
                return
            self.say(self.answer(question))
        raise AssertionError(f"the form never ended for {self.sender}\n{self.stack.log_tail()}")

    def opening(self, up_to: str) -> None:
        """Greets and answers until the bot asks ``up_to``."""
        self.say("hello!")
        for _ in range(12):
            question = self.asked()
            if question == up_to:
                return
            assert question is not None, f"the form ended before {up_to}"
            self.say(self.answer(question))
        raise AssertionError(f"{up_to} was never asked\n{self.stack.log_tail()}")


def lead_rows(stack: Stack, sender: str) -> list[Any]:
    with unit_of_work(stack.crm_url) as session:
        return [lead for lead in list_leads(session) if lead.conversation_id == sender]


def eventually(check: Any, what: str, stack: Stack, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if found := check():
                return found
        except Exception:  # the database still locked, a process still starting
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} never happened\n{stack.log_tail()}")


def tally(visitor: Visitor) -> dict[str, int]:
    """What the fault cost this conversation: each number must be 0."""
    leads = lead_rows(visitor.stack, visitor.sender)
    recorded = Counter(
        str(e.get("text")) for e in visitor.stack.tracker(visitor.sender)["events"] if e["event"] == "user"
    )
    sent = Counter(visitor.sent)
    wrong = [
        lead
        for lead in leads
        if (lead.qualification.value, lead.authority.value, lead.assigned_rep)
        != (EXPECTED["qualification"], EXPECTED["authority"], EXPECTED["assigned_rep"])
    ]
    return {
        "leads lost": int(not leads),
        "leads duplicated": max(0, len(leads) - 1),
        "leads misclassified": len(wrong),
        "visitor messages lost": sum((sent - recorded).values()),
        "visitor messages duplicated": sum((recorded - sent).values()),
        "turns without a reply": visitor.unanswered,
    }


@contextmanager
def crm_locked(stack: Stack) -> Iterator[threading.Event]:
    """Another writer holds the CRM database (SQLite's "database is locked") until the block ends; yields
    an event that is set while the lock is held."""
    crm = sqlite3.connect(
        stack.crm_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    crm.execute("BEGIN EXCLUSIVE")
    held = threading.Event()
    held.set()
    try:
        yield held
    finally:
        held.clear()
        crm.execute("ROLLBACK")
        crm.close()


def _tree(pid: int) -> list[int]:
    """``pid`` and every process under it (the action server's Sanic runs its workers as children)."""
    found, index = [pid], 0
    while index < len(found):
        tasks = Path(f"/proc/{found[index]}/task")
        for task in tasks.iterdir() if tasks.is_dir() else []:
            found += [int(child) for child in (task / "children").read_text().split()]
        index += 1
    return found


def kill(stack: Stack, name: str) -> tuple[list[str], dict[str, str]]:
    """SIGKILLs one of the stack's processes with all its children; returns its command and environment
    to start it again."""
    process = stack.processes[name]
    environ = Path(f"/proc/{process.pid}/environ").read_bytes()
    env = dict(item.split("=", 1) for item in environ.decode().split("\0") if "=" in item)
    for pid in _tree(process.pid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=20)
    return [str(arg) for arg in process.args], env  # type: ignore[union-attr]


def start(
    stack: Stack, name: str, command: list[str], env: dict[str, str], ready: Callable[[], bool]
) -> None:
    """Starts ``name`` again (its log continues) and waits until ``ready()``."""
    log = (stack.logs / f"{name}.log").open("ab")
    stack.processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    eventually(ready, f"{name} back", stack, timeout=240)


def action_server_up(stack: Stack) -> bool:
    return httpx.get(f"{stack.action_url}/health", timeout=5).is_success


def rasa_up(stack: Stack) -> bool:
    status = httpx.get(f"{stack.rasa_url}/status", params={"token": stack.rasa_token}, timeout=5)
    return status.is_success and status.json().get("model_id") is not None
