"""Two notifiers at once on PostgreSQL: what one has claimed (and not committed yet) the other skips.

Each test holds notifier A's transaction open while notifier B runs the same job in another connection, the
moment where, without row locks, both would take the same rows. SQLite runs one notifier (the README says
so): these run only on PostgreSQL (``make unit-postgres``).
"""

import os
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm_core.assignment.sla import enforce_sla
from crm_core.db import unit_of_work
from crm_core.delivery.notifications import claim_due
from crm_core.exchange.webhooks import Post, deliver_due
from crm_core.models import Lead, Notification, NotificationChannel, Stage, WebhookDelivery
from crm_core.people.reps import add_rep
from crm_core.sales.lifecycle import assign, move
from crm_core.schemas import NewRep
from tests.unit.helpers import make_lead
from tests.unit.test_sla import MONDAY_10_UTC

pytestmark = pytest.mark.skipif(
    not os.environ.get("EMBUDO_TEST_POSTGRES_URL"), reason="row locks: PostgreSQL only"
)


def impatient(session: Session) -> Session:
    """Notifier B gives up on a locked row instead of waiting for A (which waits for B): without SKIP
    LOCKED the test fails with a lock timeout rather than hanging."""
    session.execute(text("SET LOCAL lock_timeout = '5s'"))
    return session


def test_a_webhook_being_posted_is_not_posted_by_the_other_notifier(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_core.config import get_settings

    monkeypatch.setenv("EMBUDO_WEBHOOK_URLS", "http://receiver.example/hook")
    get_settings.cache_clear()
    with unit_of_work(db_url) as session:
        move(session, make_lead(session, Stage.SQL), "contacted")
    posted: list[tuple[str, str]] = []

    def post(name: str) -> Post:
        def send(url: str, body: bytes, headers: dict[str, str]) -> int:
            posted.append((name, headers["X-Embudo-Delivery"]))
            return 200

        return send

    with unit_of_work(db_url) as first:
        assert deliver_due(first, post=post("A")) == 1
        with unit_of_work(db_url) as second:
            assert deliver_due(impatient(second), post=post("B")) == 0
    with unit_of_work(db_url) as session:
        assert deliver_due(session, post=post("C")) == 0
        [row] = session.scalars(select(WebhookDelivery)).all()
        assert row.delivered_at is not None
    assert posted == [("A", str(row.id))]
    get_settings.cache_clear()


def test_a_claimed_notification_is_not_claimed_by_the_other_notifier(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        add_rep(session, NewRep(name="Ana", languages=["en"], telegram_chat_id=77))
        assign(session, make_lead(session, Stage.SQL))
    with unit_of_work(db_url) as first:
        claimed = claim_due(first, NotificationChannel.TELEGRAM)
        with unit_of_work(db_url) as second:
            assert claim_due(impatient(second), NotificationChannel.TELEGRAM) == []
    assert len(claimed) == 1
    with unit_of_work(db_url) as session:
        row = session.get(Notification, claimed[0].notification_id)
        assert row is not None and row.attempts == 1


def test_an_expired_lead_is_moved_on_once_by_two_notifiers(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        for name in ("Ana", "Ben", "Cy"):
            add_rep(session, NewRep(name=name, languages=["en"]))
        lead = make_lead(session, Stage.SQL, created=MONDAY_10_UTC)
        assign(session, lead, now=MONDAY_10_UTC)
        lead_id = lead.id
    late = MONDAY_10_UTC + timedelta(minutes=16)
    with unit_of_work(db_url) as first:
        assert enforce_sla(first, now=late) == [lead_id]
        with unit_of_work(db_url) as second:
            assert enforce_sla(impatient(second), now=late) == []
    with unit_of_work(db_url) as session:
        assert enforce_sla(session, now=late) == []  # its new deadline is 15 minutes on
        moved = session.get(Lead, lead_id)
        assert moved is not None and moved.sla_passes == 1
