"""The few threads that check sign-in passwords, and the short queue in front of them.

An argon2id check holds a thread (and 64 MiB) for a while. Run on the web server's shared threads, a burst
of sign-ins would leave none for the pages of people already signed in, so each sign-in runs here instead:
at most ``workers`` at once, at most ``waiting`` more queued, and anything past that is refused at once
(``QueueFull``, a 429 with Retry-After) without touching the database or the brake.
"""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

from bot.web.console.security import console_settings

T = TypeVar("T")
RETRY_AFTER_SECONDS = 5


class QueueFull(Exception):
    """Every password-check place is taken: nothing was done."""

    retry_after_seconds = RETRY_AFTER_SECONDS


class PasswordChecks:
    def __init__(self, workers: int, waiting: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-check")
        self._places = workers + waiting
        self._taken = 0
        self._lock = threading.Lock()

    def _release(self, _done: "Future[Any]") -> None:
        with self._lock:
            self._taken -= 1

    async def run(self, job: Callable[..., T], *args: object) -> T:
        """``job(*args)`` on a password-check thread; the caller's thread or event loop stays free. The place
        is held until the job ends, even if the request that asked for it is gone."""
        with self._lock:
            if self._taken >= self._places:
                raise QueueFull()
            self._taken += 1
        future = self._executor.submit(job, *args)
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)


@lru_cache
def password_checks() -> PasswordChecks:
    settings = console_settings()
    return PasswordChecks(settings.login_check_threads, settings.login_check_queue)
