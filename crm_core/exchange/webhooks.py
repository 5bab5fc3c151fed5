"""Outgoing webhooks on lead qualified / assigned / stage changed: signed, retried, never lost.

``emit`` writes an outbox row per receiver inside the caller's transaction, so a webhook exists exactly
when the change it describes was committed. ``deliver_due`` posts due rows; a failure is retried with
exponential backoff (30 s, 60 s, 120 s, … capped at an hour) until ``webhook_max_attempts``. On PostgreSQL
the rows being posted stay locked (``FOR UPDATE SKIP LOCKED``) until the caller commits their outcome, so
several notifiers never post the same row; SQLite runs one notifier. A receiver that sees a delivery id
again (the notifier stopped between the post and the commit) should ignore it: ``X-Embudo-Delivery``.

Each request carries ``X-Embudo-Signature: sha256=<hex>``, the HMAC-SHA256 with the shared secret of
``<X-Embudo-Timestamp>.<body>``; receivers recompute it and reject old timestamps to stop replays.
"""

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.delivery.outbox import backoff
from crm_core.models import WebhookDelivery, utcnow

LEAD_QUALIFIED = "lead.qualified"
LEAD_ASSIGNED = "lead.assigned"
LEAD_STAGE_CHANGED = "lead.stage_changed"
MAX_BACKOFF = timedelta(hours=1)

# (url, body, headers) → HTTP status; raises on transport errors.
Post = Callable[[str, bytes, dict[str, str]], int]


def receivers() -> list[str]:
    return [url.strip() for url in get_settings().webhook_urls.split(",") if url.strip()]


def emit(session: Session, event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue ``event`` for every receiver, in the current transaction."""
    rows = [WebhookDelivery(event=event, url=url, payload=payload) for url in receivers()]
    session.add_all(rows)
    return rows


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return httpx.post(url, content=body, headers=headers, timeout=10).status_code


def deliver_due(
    session: Session, now: datetime | None = None, post: Post | None = None, limit: int = 100
) -> int:
    """Try every due webhook once; returns how many were delivered. Commit after it to keep the results."""
    now = now or utcnow()
    post = post or _http_post
    settings = get_settings()
    due = session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.failed_at.is_(None),
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    delivered = 0
    for row in due:
        body = json.dumps(
            {"id": row.id, "event": row.event, "created_at": row.created_at.isoformat(), "data": row.payload},
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-Embudo-Event": row.event,
            "X-Embudo-Delivery": str(row.id),
            "X-Embudo-Timestamp": timestamp,
            "X-Embudo-Signature": sign(settings.webhook_secret, timestamp, body),
        }
        row.attempts += 1
        try:
            status = post(row.url, body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except httpx.HTTPError as failure:
            error = f"{failure.__class__.__name__}: {failure}"
        if error is None:
            row.delivered_at = now
            row.last_error = None
            delivered += 1
        else:
            row.last_error = error[:1000]
            if row.attempts >= settings.webhook_max_attempts:
                row.failed_at = now
            else:
                delay = backoff(row.attempts, settings.webhook_backoff_seconds, MAX_BACKOFF)
                row.next_attempt_at = now + delay
    session.flush()
    return delivered
