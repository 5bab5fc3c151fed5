"""What a chat channel accepts before Rasa sees a message: whose conversation a sender id may name, how long
a message may be, and how fast a sender and a client address may write.

Plain Python (no Rasa imports), so the app's tests read it too. ``failsafe.py`` and ``gateway.py`` apply
it; a refused message never reaches Rasa, so nothing of it is stored in the tracker or the transcript.

- **Namespaces.** A sender id that starts with a reserved prefix belongs to one channel only:
  ``telegram-`` to the Telegram gateway's channel. A public channel (REST, socket.io) refuses it.
- **Sender ids** are 1–128 of ``A-Z a-z 0-9 _ . : @ + = -``, starting with a letter or digit (no ``/``,
  spaces or control characters: they end up in URLs and links).
- **Messages** are text of at most ``EMBUDO_CHAT_MAX_CHARS`` characters (default 2,000) without control
  characters (tab, newline and carriage return are fine) or lone surrogates; metadata at most 8,000
  characters of JSON. An empty message (or only spaces) is ignored: passed on to no one, stored nowhere.
- **Rates.** At most ``EMBUDO_CHAT_SENDER_PER_MINUTE`` accepted messages per sender (default 30) and
  ``EMBUDO_CHAT_ADDRESS_PER_MINUTE`` per client address (default 120) in any 60 s; each Rasa process
  counts its own.
"""

import json
import os
import re
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rasa_channels.wording import REFUSALS

# The gateway's channel owns these conversations (bot/telegram/gateway.py names them the same way).
RESERVED_PREFIXES = {"telegram-": "telegram"}
SENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+=-]{0,127}")
MAX_METADATA_CHARS = 8_000
WINDOW_SECONDS = 60.0
# Keys (senders, addresses) a limiter remembers at most; the longest idle ones are forgotten first.
MAX_TRACKED_KEYS = 100_000


@dataclass(frozen=True)
class Limits:
    max_chars: int = 2_000
    sender_per_minute: int = 30
    address_per_minute: int = 120

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Limits":
        def number(name: str, default: int) -> int:
            value = environ.get(name, "").strip()
            if not value:
                return default
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"{name} must be a whole number ≥ 1, not {value!r}")
            return int(value)

        return cls(
            number("EMBUDO_CHAT_MAX_CHARS", cls.max_chars),
            number("EMBUDO_CHAT_SENDER_PER_MINUTE", cls.sender_per_minute),
            number("EMBUDO_CHAT_ADDRESS_PER_MINUTE", cls.address_per_minute),
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


class Guard:
    """One channel's checks, in order: the sender id, the message, then the rates (only a message that
    passes everything else is counted)."""

    def __init__(self, channel: str, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.channel = channel
        self.limits = limits
        self.by_sender = RateLimiter(limits.sender_per_minute, clock)
        self.by_address = RateLimiter(limits.address_per_minute, clock)

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
