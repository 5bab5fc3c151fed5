"""Outgoing webhooks: outbox rows in the same transaction, HMAC signatures, retries with backoff.

Deliveries go to a real HTTP server on localhost.
"""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.db import unit_of_work
from crm_core.delivery.outbox import backoff
from crm_core.exchange.webhooks import MAX_BACKOFF, deliver_due
from crm_core.models import Stage, WebhookDelivery, utcnow
from crm_core.people.reps import add_rep
from crm_core.sales.leads import capture_lead
from crm_core.sales.lifecycle import move
from crm_core.schemas import ConversationRef, NewRep
from tests.unit.helpers import at, make_lead
from tests.unit.test_leads import HOT

SECRET = "s3cret"


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers.items()), body))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    monkeypatch.setenv("EMBUDO_WEBHOOK_URLS", url)
    monkeypatch.setenv("EMBUDO_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    yield state, url
    server.shutdown()
    get_settings.cache_clear()


def outbox(session: Session) -> list[WebhookDelivery]:
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_qualified_assigned_and_stage_changed_are_queued_in_the_same_transaction(
    receiver: tuple[Receiver, str], session: Session
) -> None:
    add_rep(session, NewRep(name="Rita", languages=["en"]))
    lead = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="w1"))
    from crm_core.models import Lead

    row = session.get(Lead, lead.id)
    assert row is not None
    move(session, row, "contacted")
    assert [(d.event, d.payload["lead_id"]) for d in outbox(session)] == [
        ("lead.qualified", lead.id),
        ("lead.assigned", lead.id),
        ("lead.stage_changed", lead.id),
    ]


def test_a_rolled_back_change_leaves_no_webhook(receiver: tuple[Receiver, str], db_url: str) -> None:
    with pytest.raises(RuntimeError), unit_of_work(db_url) as session:
        move(session, make_lead(session, Stage.SQL), "contacted")
        raise RuntimeError("later failure")
    with unit_of_work(db_url) as session:
        assert outbox(session) == []


def test_delivery_is_signed(receiver: tuple[Receiver, str], session: Session) -> None:
    state, _url = receiver
    move(session, make_lead(session, Stage.SQL), "contacted", at=at(1))
    now = utcnow()
    assert deliver_due(session, now=now) == 1
    [(headers, body)] = state.requests
    expected = hmac.new(SECRET.encode(), headers["X-Embudo-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Embudo-Signature"] == "sha256=" + expected.hexdigest()
    assert headers["X-Embudo-Event"] == "lead.stage_changed"
    assert json.loads(body)["data"]["to"] == "contacted"
    assert outbox(session)[0].delivered_at == now
    assert deliver_due(session, now=now + timedelta(days=1)) == 0  # delivered once only


def test_failures_are_retried_with_exponential_backoff_then_given_up(
    receiver: tuple[Receiver, str], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, _url = receiver
    monkeypatch.setenv("EMBUDO_WEBHOOK_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    state.status = 500
    move(session, make_lead(session, Stage.SQL), "contacted", at=at(1))
    now = utcnow()
    assert deliver_due(session, now=now) == 0
    [row] = outbox(session)
    assert (row.attempts, row.last_error, row.next_attempt_at) == (1, "HTTP 500", now + timedelta(seconds=30))
    assert deliver_due(session, now=now + timedelta(seconds=29)) == 0 and row.attempts == 1  # not due yet
    now += timedelta(seconds=30)
    deliver_due(session, now=now)
    assert (row.attempts, row.next_attempt_at) == (2, now + timedelta(seconds=60))
    now += timedelta(seconds=60)
    deliver_due(session, now=now)
    assert row.attempts == 3 and row.failed_at == now  # gave up after the third attempt
    assert len(state.requests) == 3


def test_a_receiver_that_recovers_gets_the_webhook(receiver: tuple[Receiver, str], session: Session) -> None:
    state, _url = receiver
    state.status = 503
    move(session, make_lead(session, Stage.SQL), "contacted", at=at(1))
    deliver_due(session, now=utcnow())
    state.status = 204
    assert deliver_due(session, now=utcnow() + timedelta(minutes=1)) == 1


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, 30, MAX_BACKOFF).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20, 30, MAX_BACKOFF) == timedelta(hours=1)
