"""What a chat channel accepts before Rasa sees a message: whose conversation a sender id may name, how long
a message may be, and how fast a sender and a client address may write.

Plain Python (no Rasa imports; redis-py, which both environments have), so the app's tests read it too.
``failsafe.py`` and ``gateway.py`` apply it; a refused message never reaches Rasa, so nothing of it is
stored in the tracker or the transcript.

- **Namespaces.** A sender id that starts with a reserved prefix belongs to one channel only:
  ``telegram-`` to the Telegram gateway's channel. A public channel (REST, socket.io) refuses it.
- **Sender ids** are 1–128 of ``A-Z a-z 0-9 _ . : @ + = -``, starting with a letter or digit (no ``/``,
  spaces or control characters: they end up in URLs and links).
- **Messages** are text of at most ``EMBUDO_CHAT_MAX_CHARS`` characters (default 2,000) without control
  characters (tab, newline and carriage return are fine) or lone surrogates; metadata at most 8,000
  characters of JSON. An empty message (or only spaces) is ignored: passed on to no one, stored nowhere.
- **Rates.** At most ``EMBUDO_CHAT_SENDER_PER_MINUTE`` accepted messages per sender (default 30) and
  ``EMBUDO_CHAT_ADDRESS_PER_MINUTE`` per client address (default 120) in any 60 s, per channel. With
  ``EMBUDO_REDIS_HOST`` set (the scale-out lock store's Redis; ``EMBUDO_REDIS_PORT``, ``EMBUDO_REDIS_DB``,
  ``EMBUDO_REDIS_PASSWORD``, ``EMBUDO_REDIS_SSL`` as that Redis needs) every Rasa replica counts in the same
  place: one sorted set of timestamps per key under ``embudo:rate:``, trimmed, counted and added to by one
  Lua script, so two replicas racing for the last slot cannot both get it. The replicas' clocks stamp the
  messages (keep them in step, NTP: a skew moves the window's edge by as much). Without it each Rasa
  process counts its own. A Redis that does not answer (within 0.5 s) is no reason to refuse visitors
  nor to crash: that process counts alone (a warning in its log), asks Redis again after
  ``REDIS_RETRY_SECONDS``, and counts together again once it answers; meanwhile a visitor may get up to
  the limit from each replica. The Redis calls are synchronous (as Rasa's own RedisLockStore's are): a
  round trip on the private network, on the channel's event loop.
"""

import json
import logging
import os
import re
import secrets
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from rasa_channels.wording import REFUSALS

log = logging.getLogger(__name__)

# The gateway's channel owns these conversations (bot/telegram/gateway.py names them the same way).
RESERVED_PREFIXES = {"telegram-": "telegram"}
SENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+=-]{0,127}")
MAX_METADATA_CHARS = 8_000
WINDOW_SECONDS = 60.0
# Keys (senders, addresses) a limiter remembers at most; the longest idle ones are forgotten first.
MAX_TRACKED_KEYS = 100_000
# Shared counting: the keys' prefix in Redis (Rasa's lock store uses ``embudo:lock:``), how long a Redis call
# may take, and how long a process counts alone after Redis did not answer before it asks again.
REDIS_KEY_PREFIX = "embudo:rate:"
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_SECONDS = 5.0
# KEYS[1]: one key's sorted set of accepted messages (member: a unique id, score: when). ARGV: now, the
# window (s), the limit, a new member. Forgets what left the window, then adds the message only if there is
# room, as one step (Redis runs a script alone), so the count never passes the limit.
SLIDING_WINDOW_SCRIPT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return 1
"""


def whole_number(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """A setting that is a whole number (``default`` when unset); anything else is refused by name."""
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < minimum:
        bound = f" ≥ {minimum}" if minimum else ""
        raise ValueError(f"{name} must be a whole number{bound}, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class Limits:
    max_chars: int = 2_000
    sender_per_minute: int = 30
    address_per_minute: int = 120

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Limits":
        return cls(
            whole_number(environ, "EMBUDO_CHAT_MAX_CHARS", cls.max_chars, minimum=1),
            whole_number(environ, "EMBUDO_CHAT_SENDER_PER_MINUTE", cls.sender_per_minute, minimum=1),
            whole_number(environ, "EMBUDO_CHAT_ADDRESS_PER_MINUTE", cls.address_per_minute, minimum=1),
        )


@dataclass(frozen=True)
class RedisSettings:
    """The Redis the replicas count in: the lock store's (``deploy/endpoints.scale.yml`` reads the same
    ``EMBUDO_REDIS_HOST`` and ``EMBUDO_REDIS_PORT``)."""

    host: str
    port: int = 6379
    db: int = 0
    password: str | None = None
    ssl: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "RedisSettings | None":
        """None without ``EMBUDO_REDIS_HOST``: each process counts its own."""
        host = environ.get("EMBUDO_REDIS_HOST", "").strip()
        if not host:
            return None

        ssl = environ.get("EMBUDO_REDIS_SSL", "").strip().lower()
        if ssl not in ("", "0", "1", "false", "true", "no", "yes"):
            raise ValueError(f"EMBUDO_REDIS_SSL must be true or false, not {ssl!r}")
        return cls(
            host,
            whole_number(environ, "EMBUDO_REDIS_PORT", cls.port),
            whole_number(environ, "EMBUDO_REDIS_DB", cls.db),
            environ.get("EMBUDO_REDIS_PASSWORD") or None,
            ssl in ("1", "true", "yes"),
        )

    def client(self) -> redis.Redis:
        return redis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            password=self.password,
            ssl=self.ssl,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )


@dataclass(frozen=True)
class Refusal:
    """Why a message was not let through: ``reason`` is one of ``wording.REFUSALS``; ``status`` the HTTP
    status a REST client gets."""

    reason: str
    status: int

    def text(self, language: str) -> str:
        wording = REFUSALS[self.reason]
        return wording.get(language, wording["en"])

    def body(self, language: str) -> dict[str, str]:
        return {"error": self.reason, "message": self.text(language)}


BAD_REQUEST = Refusal("bad_request", 400)
OTHER_CHANNEL = Refusal("other_channel", 403)
TOO_LONG = Refusal("too_long", 413)
TOO_FAST = Refusal("too_fast", 429)


def owner_of(sender_id: str) -> str | None:
    """The channel whose namespace the sender id is in, or None (any public channel may use it)."""
    lowered = sender_id.lower()
    owners = (channel for prefix, channel in RESERVED_PREFIXES.items() if lowered.startswith(prefix))
    return next(owners, None)


def sender_refusal(sender_id: object, channel: str) -> Refusal | None:
    if not isinstance(sender_id, str) or not SENDER_ID.fullmatch(sender_id):
        return BAD_REQUEST
    owner = owner_of(sender_id)
    if owner is not None and owner != channel:
        return OTHER_CHANNEL
    return None


def _unreadable(character: str) -> bool:
    return character not in "\t\n\r" and unicodedata.category(character) in ("Cc", "Cs")


def message_refusal(text: object, metadata: object, limits: Limits) -> Refusal | None:
    """A message is a string (empty is fine: clients send one when the chat opens) and metadata a mapping."""
    if not isinstance(text, str) or not (metadata is None or isinstance(metadata, dict)):
        return BAD_REQUEST
    if len(text) > limits.max_chars:
        return TOO_LONG
    if any(_unreadable(character) for character in text):
        return BAD_REQUEST
    if metadata and len(json.dumps(metadata, ensure_ascii=False, default=str)) > MAX_METADATA_CHARS:
        return TOO_LONG
    return None


def is_empty(text: object) -> bool:
    """Nothing to read (a client opening the chat sends that): the channels pass it on to no one. Rasa 3.6's
    NLU fails on it (the response selector finds no features) and the turn would offer a person."""
    return isinstance(text, str) and not text.strip()


def language_of(metadata: object, accept_language: str | None = None) -> str:
    """The language to refuse in: what the client said (widget ``locale``, Telegram ``language_code``, the
    browser's Accept-Language), Spanish or English."""
    hint = None
    if isinstance(metadata, dict):
        hint = metadata.get("locale") or metadata.get("language_code")
    hint = hint if isinstance(hint, str) and hint else accept_language or ""
    return "es" if hint.strip().lower().startswith("es") else "en"


class RateLimiter:
    """At most ``limit`` events per key in any ``WINDOW_SECONDS`` (a sliding log per key)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allows(self, key: str) -> bool:
        now = self.clock()
        times = self._seen.pop(key, None) or deque()
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()
        allowed = len(times) < self.limit
        if allowed:
            times.append(now)
        if times:
            self._seen[key] = times  # the newest at the end
        while len(self._seen) > MAX_TRACKED_KEYS:
            self._seen.popitem(last=False)
        return allowed


class SharedRateLimiter:
    """``RateLimiter``'s rule counted in Redis, so every process using the same Redis shares one count per
    key. While Redis does not answer, a ``RateLimiter`` of this process counts instead."""

    def __init__(
        self,
        limit: int,
        client: redis.Redis,
        prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.prefix = prefix
        self.clock = clock  # wall-clock time: the replicas' stamps are compared with one another
        self._script = client.register_script(SLIDING_WINDOW_SCRIPT)
        self._alone = RateLimiter(limit, clock)
        self._alone_until: float | None = None  # while set, Redis did not answer: count alone till then

    @property
    def shared(self) -> bool:
        """Whether the last count was Redis's (False after Redis did not answer, until it does again)."""
        return self._alone_until is None

    def allows(self, key: str) -> bool:
        now = self.clock()
        if self._alone_until is not None and now < self._alone_until:
            return self._alone.allows(key)
        try:
            member = f"{now!r}:{secrets.token_hex(8)}"  # two messages in the same instant are two
            args = [repr(now), WINDOW_SECONDS, self.limit, member]
            allowed = self._script(keys=[self.prefix + key], args=args)
        except (redis.RedisError, OSError) as error:
            if self._alone_until is None:
                log.warning(
                    "%s…: Redis did not answer (%s); counting in this process alone, asking again in %.0f s",
                    self.prefix,
                    error,
                    REDIS_RETRY_SECONDS,
                )
            self._alone_until = now + REDIS_RETRY_SECONDS
            return self._alone.allows(key)
        if self._alone_until is not None:
            log.warning("%s…: Redis answers again; counting with the other processes", self.prefix)
            self._alone_until = None
            self._alone = RateLimiter(self.limit, self.clock)  # the next outage starts from nothing
        return bool(allowed)


class Guard:
    """One channel's checks, in order: the sender id, the message, then the rates (only a message that
    passes everything else is counted). The rates are counted in ``redis`` when given (shared by every
    process using it), else in this process."""

    def __init__(
        self,
        channel: str,
        limits: Limits,
        clock: Callable[[], float] | None = None,
        redis_settings: RedisSettings | None = None,
    ) -> None:
        self.channel = channel
        self.limits = limits
        self.by_sender: RateLimiter | SharedRateLimiter
        self.by_address: RateLimiter | SharedRateLimiter
        if redis_settings is None:
            self.by_sender = RateLimiter(limits.sender_per_minute, clock or time.monotonic)
            self.by_address = RateLimiter(limits.address_per_minute, clock or time.monotonic)
        else:
            client = redis_settings.client()
            prefix = f"{REDIS_KEY_PREFIX}{channel}:"
            self.by_sender = SharedRateLimiter(
                limits.sender_per_minute, client, prefix + "sender:", clock or time.time
            )
            self.by_address = SharedRateLimiter(
                limits.address_per_minute, client, prefix + "address:", clock or time.time
            )

    @classmethod
    def from_env(cls, channel: str, environ: Mapping[str, str] = os.environ) -> "Guard":
        """The channel's guard as the environment configures it (limits, and Redis if any)."""
        settings = RedisSettings.from_env(environ)
        if settings is not None:
            log.info(
                "%s: chat rates counted in Redis at %s:%s (db %s), shared by every Rasa process using it",
                channel,
                settings.host,
                settings.port,
                settings.db,
            )
        return cls(channel, Limits.from_env(environ), redis_settings=settings)

    def shape_refusal(self, sender_id: object, text: object, metadata: object) -> Refusal | None:
        return sender_refusal(sender_id, self.channel) or message_refusal(text, metadata, self.limits)

    def rate_refusal(self, sender_id: str, address: str | None) -> Refusal | None:
        if address is not None and not self.by_address.allows(address):
            return TOO_FAST
        if not self.by_sender.allows(sender_id):
            return TOO_FAST
        return None


def metadata_of(raw: Any) -> Any:
    """Socket.io clients may send the metadata as a JSON string; anything unreadable is refused later."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return {} if raw is None else raw
