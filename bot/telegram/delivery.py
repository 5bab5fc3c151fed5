"""Sending to Telegram without losing messages to flood control or a flaky network."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

log = logging.getLogger(__name__)
T = TypeVar("T")


def retry_after_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def deliver(
    send: Callable[[], Awaitable[T]],
    what: str,
    attempts: int = 6,
    first_backoff: float = 0.5,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T | None:
    """Call ``send`` until it succeeds: wait as told on flood control, back off exponentially on
    network errors. A chat that blocked the bot, or a request Telegram rejects, is logged and dropped:
    retrying cannot help. Returns None when the message could not be delivered."""
    backoff = first_backoff
    for attempt in range(1, attempts + 1):
        try:
            return await send()
        except RetryAfter as error:
            wait = retry_after_seconds(error)
            log.warning("flood control on %s: retrying in %.1f s (attempt %d)", what, wait, attempt)
            await sleep(wait)
        except Forbidden as error:
            log.info("not delivered, %s: the user blocked the bot or left (%s)", what, error.message)
            return None
        except BadRequest as error:
            log.error("not delivered, %s: Telegram refused the request (%s)", what, error.message)
            return None
        except NetworkError as error:
            log.warning(
                "network error on %s: %s; retrying in %.1f s (attempt %d)", what, error, backoff, attempt
            )
            await sleep(backoff)
            backoff = min(backoff * 2, 30)
    log.error("not delivered after %d attempts: %s", attempts, what)
    return None
