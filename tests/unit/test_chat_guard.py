"""The chat channels' checks (rasa_channels/guard.py): namespaces, sender ids, message shape and length,
and the rates per sender and per address."""

import pytest

from bot.telegram.gateway import SENDER_PREFIX, sender_id
from rasa_channels.guard import (
    BAD_REQUEST,
    OTHER_CHANNEL,
    RESERVED_PREFIXES,
    TOO_FAST,
    TOO_LONG,
    WINDOW_SECONDS,
    Guard,
    Limits,
    RateLimiter,
    is_empty,
    language_of,
    message_refusal,
    metadata_of,
    sender_refusal,
)


def test_the_gateway_names_its_conversations_in_the_namespace_its_channel_owns() -> None:
    assert RESERVED_PREFIXES[SENDER_PREFIX] == "telegram"
    assert sender_refusal(sender_id(-1001234), "telegram") is None


@pytest.mark.parametrize("sender", ["telegram-42", "TELEGRAM-42", "telegram-", "telegram-abc"])
def test_a_public_channel_never_claims_a_telegram_conversation(sender: str) -> None:
    assert sender_refusal(sender, "rest") is OTHER_CHANNEL
    assert sender_refusal(sender, "socketio") is OTHER_CHANNEL


@pytest.mark.parametrize(
    "sender", [None, "", 7, ["me"], "a/b", "../x", "a b", "x\x00", "é", "-lead", "x" * 129, ".hidden"]
)
def test_sender_ids_are_short_plain_names(sender: object) -> None:
    assert sender_refusal(sender, "rest") is BAD_REQUEST


@pytest.mark.parametrize("sender", ["me", "it-hot", "3f2a" * 8, "user@example.com", "a:b.c_d+e=f"])
def test_ordinary_sender_ids_pass(sender: str) -> None:
    assert sender_refusal(sender, "rest") is None


def test_message_shape_and_length() -> None:
    limits = Limits(max_chars=10)
    assert message_refusal("", None, limits) is None  # a client opening the chat
    assert message_refusal("sí\tqué\nal", {"locale": "es"}, limits) is None
    assert message_refusal("🦜𝄞\U000e0041\U0010fffd", None, limits) is None  # every plane is text
    assert message_refusal("x" * 11, None, limits) is TOO_LONG
    assert message_refusal("nul\x00", None, limits) is BAD_REQUEST
    assert message_refusal("\x1b[31m", None, limits) is BAD_REQUEST
    assert message_refusal("\ud800", None, limits) is BAD_REQUEST  # a lone surrogate from JSON
    assert message_refusal(None, None, limits) is BAD_REQUEST
    assert message_refusal(12, None, limits) is BAD_REQUEST
    assert message_refusal("hi", "not a mapping", limits) is BAD_REQUEST
    assert message_refusal("hi", {"page": "x" * 9000}, limits) is TOO_LONG


def test_limits_from_the_environment() -> None:
    assert Limits.from_env({}) == Limits(2000, 30, 120)
    assert Limits.from_env(
        {"EMBUDO_CHAT_MAX_CHARS": "500", "EMBUDO_CHAT_SENDER_PER_MINUTE": " 5 "}
    ) == Limits(500, 5, 120)
    with pytest.raises(ValueError, match="EMBUDO_CHAT_ADDRESS_PER_MINUTE"):
        Limits.from_env({"EMBUDO_CHAT_ADDRESS_PER_MINUTE": "0"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_is_a_sliding_window_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [limiter.allows("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allows("b")
    clock.now += WINDOW_SECONDS / 2
    assert not limiter.allows("a")
    clock.now += WINDOW_SECONDS / 2 + 0.01
    assert limiter.allows("a")


def test_refused_messages_do_not_count_towards_the_rate() -> None:
    clock = Clock()
    guard = Guard("rest", Limits(max_chars=5, sender_per_minute=2, address_per_minute=3), clock)
    assert guard.shape_refusal("me", "far too long", None) is TOO_LONG
    assert [guard.rate_refusal("me", "10.0.0.1") for _ in range(3)] == [None, None, TOO_FAST]
    assert guard.rate_refusal("you", "10.0.0.1") is TOO_FAST  # the address used its three
    assert guard.rate_refusal("you", "10.0.0.2") is None
    assert guard.rate_refusal("telegram-1", None) is None  # no address: the sender's rate only


def test_refusals_are_said_in_the_visitors_language() -> None:
    assert language_of({"locale": "es-MX"}) == "es"
    assert language_of({"language_code": "es"}) == "es"
    assert language_of(None, "es-ES,es;q=0.9") == "es"
    assert language_of({"locale": 5}, "fr") == "en"
    spanish, english = TOO_LONG.body("es"), TOO_LONG.body("en")
    assert spanish["error"] == english["error"] == "too_long"
    assert spanish["message"] != english["message"] and "largo" in spanish["message"]
    assert TOO_FAST.text("de") == TOO_FAST.text("en")


def test_socketio_metadata_may_come_as_json_text() -> None:
    assert metadata_of('{"locale": "es"}') == {"locale": "es"}
    assert metadata_of(None) == {}
    assert metadata_of("{broken") == "{broken"  # refused by message_refusal


def test_nothing_to_read_is_empty() -> None:
    assert is_empty("") and is_empty(" \n\t") and is_empty("\u3000")
    assert not is_empty("?") and not is_empty(None) and not is_empty("0")
