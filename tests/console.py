"""A console to test against: the web app under a real uvicorn, and a database with reps, logins, leads
and a transcript, all written through crm_core as the bot and the CLI write them."""

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

from crm_core.chats.transcripts import RasaEvent, ingest
from crm_core.db import unit_of_work
from crm_core.models import Authority, UserRole
from crm_core.people.reps import add_rep
from crm_core.people.users import create_user
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef, NewRep
from tests.harness import APP_PYTHON, ROOT, free_port

PASSWORD = "correct horse battery"
ADMIN = "admin@embudo.example"
ROSA = "rosa@embudo.example"
BEN = "ben@embudo.example"
HOSTILE = "<script>alert('pwned')</script><b>bold</b>"  # visitor text that must never run as markup


@dataclass(frozen=True)
class Seeded:
    rosa_rep_id: int
    ben_rep_id: int
    rosa_lead: int  # assigned to Rosa, waiting for her to accept
    ben_lead: int  # assigned to Ben
    rosa_sender: str
    ben_sender: str


def hot_facts(name: str, email: str) -> LeadFacts:
    return LeadFacts(
        need="a support bot for our shop",
        budget_amount=Decimal("18000"),
        budget_currency="EUR",
        authority=Authority.DECISION_MAKER,
        timeline_days=10,
        company="Lakeshore Cycles",
        name=name,
        email=email,
        consent=True,
    )


def _conversation(sender: str, visitor_text: str, first_event_id: int) -> list[RasaEvent]:
    clock = 1_764_000_000.0 + first_event_id
    user = {
        "event": "user",
        "text": visitor_text,
        "input_channel": "rest",
        "timestamp": clock,
        "parse_data": {"intent": {"name": "inform", "confidence": 0.91}},
    }
    bot = {"event": "bot", "text": "Thanks! What is your budget?", "timestamp": clock + 1}
    return [RasaEvent(first_event_id, sender, user), RasaEvent(first_event_id + 1, sender, bot)]


def seed(db_url: str) -> Seeded:
    """Rosa and Ben (reps with logins), an admin, and one SQL lead routed to each rep with its transcript."""
    with unit_of_work(db_url) as session:
        rosa = add_rep(session, NewRep(name="Rosa Diaz", languages=["en"], timezone="Europe/Madrid"))
        rosa_lead = capture_lead(
            session,
            hot_facts(f"Marta {HOSTILE}", "marta@lakeshore.example"),
            ConversationRef(channel="rest", sender_id="visitor-marta"),
        )
        ben = add_rep(session, NewRep(name="Ben Okafor", languages=["en"]))
        ben_lead = capture_lead(
            session,
            hot_facts("Tomas Berg", "tomas@fjord.example"),
            ConversationRef(channel="rest", sender_id="visitor-tomas"),
        )
        assert (rosa_lead.assigned_rep_id, ben_lead.assigned_rep_id) == (rosa.id, ben.id)
        ingest(session, _conversation("visitor-marta", f"We sell bikes {HOSTILE}", 1))
        ingest(session, _conversation("visitor-tomas", "Tomas's private words", 3))
        create_user(session, ADMIN, PASSWORD, UserRole.ADMIN)
        create_user(session, ROSA, PASSWORD, UserRole.REP, rep_id=rosa.id)
        create_user(session, BEN, PASSWORD, UserRole.REP, rep_id=ben.id)
    return Seeded(rosa.id, ben.id, rosa_lead.id, ben_lead.id, "visitor-marta", "visitor-tomas")


@contextmanager
def console_server(db_url: str, log: Path, **env: str) -> Iterator[str]:
    """The web app as `make run` starts it, on a free port; ``env`` adds EMBUDO_* settings."""
    port = free_port()
    environment = {
        **os.environ,
        "EMBUDO_DATABASE_URL": db_url,
        "EMBUDO_SECRET_KEY": "test-only-secret-key-0123456789abcdef",
        **env,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(APP_PYTHON),
                "-m",
                "uvicorn",
                "bot.web.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-proxy-headers",
            ],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                httpx.get(url + "/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise TimeoutError(f"web app did not start:\n{log.read_text()}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def csrf_of(page: str) -> str:
    """The CSRF token a console page put in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def login(
    client: httpx.Client, email: str, password: str = PASSWORD, next_url: str = "/console"
) -> httpx.Response:
    """Sign in through the login form as a browser does (its CSRF token, then the POST)."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": next_url},
    )


def signed_in(url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    response = login(client, email)
    assert response.status_code == 303, response.text
    return client
