"""Sending to Telegram so that a message is neither lost nor sent twice.

A message the Bot API did not take (flood control, a 5xx, a refused connection) is tried again for as long
as it takes — Telegram's ``retry_after`` when it gives one, else a backoff doubling up to a cap — and an
admin alert is logged once it has waited ``alert_after`` seconds. A request that reached the Bot API but
got no answer within the (long) read timeout may have been delivered: it is not sent again (at most once),
and that too is an admin alert. A chat that blocked the bot, or a request Telegram rejects, is logged and
dropped: retrying cannot help.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import httpx
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

log = logging.getLogger(__name__)
T = TypeVar("T")
ALERT = "ADMIN ALERT"  # the marker an operator's log alerting looks for


@dataclass(frozen=True)
class Retry:
    """How long to keep trying: ``attempts`` None means until it is sent."""

    attempts: int | None = None
    first_backoff: float = 0.5
    cap: float = 60.0
    alert_after: float = 300.0


ONCE = Retry(attempts=1)
BRIEFLY = Retry(attempts=2)


def retry_after_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def maybe_delivered(error: NetworkError) -> bool:
    """True when the request was sent but its answer never came: Telegram may have acted on it."""
    return isinstance(error, TimedOut) and isinstance(error.__cause__, httpx.ReadTimeout | httpx.WriteTimeout)


async def deliver(
    send: Callable[[], Awaitable[T]],
    what: str,
    retry: Retry = Retry(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T | None:
    """Call ``send`` until the Bot API takes it (see the module's docstring). Returns None when the
    message was not delivered, or may have been."""
    backoff, started, alerted, attempt = retry.first_backoff, clock(), False, 0
    while retry.attempts is None or attempt < retry.attempts:
        attempt += 1
        try:
            return await send()
        except RetryAfter as error:
            wait = retry_after_seconds(error)
            log.warning("flood control on %s: retrying in %.1f s (attempt %d)", what, wait, attempt)
        except Forbidden as error:
            log.info("not delivered, %s: the user blocked the bot or left (%s)", what, error.message)
            return None
        except BadRequest as error:
            log.error("not delivered, %s: Telegram refused the request (%s)", what, error.message)
            return None
        except NetworkError as error:
            if maybe_delivered(error):
                log.error("%s: no answer from the Bot API for %s; not sent again: %s", ALERT, what, error)
                return None
            wait = backoff
            backoff = min(backoff * 2, retry.cap)
            log.warning(
                "network error on %s: %s; retrying in %.1f s (attempt %d)", what, error, wait, attempt
            )
        if not alerted and clock() - started >= retry.alert_after:
            alerted = True
            log.error("%s: %s still not delivered after %.0f s; still trying", ALERT, what, clock() - started)
        await sleep(wait)
    log.error("not delivered after %d attempts: %s", attempt, what)
    return None
