"""The Telegram gateway's own channel (``/webhooks/telegram/webhook``): the only way into a ``telegram-…``
conversation.

It is Rasa's REST channel (with the failsafe and the limits of ``failsafe.py``) that answers only calls
carrying ``Authorization: Bearer $EMBUDO_GATEWAY_TOKEN`` (401 otherwise, and always while the token is not
set) and only for sender ids of its namespace. Telegram visitors have no client address we could see, so
only the per-sender rate applies (the gateway's own address is every visitor's). The reverse proxy never
exposes this path: the gateway calls Rasa directly.
"""

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint
from sanic.request import Request

from rasa_channels.failsafe import FailsafeRest
from rasa_channels.guard import BAD_REQUEST, Refusal, owner_of

log = logging.getLogger(__name__)


class TelegramGateway(FailsafeRest):
    @classmethod
    def name(cls) -> str:
        return "telegram"

    def authorised(self, request: Request) -> bool:
        token = os.environ.get("EMBUDO_GATEWAY_TOKEN", "")
        given = request.headers.get("authorization", "")
        return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def address(self, request: Request) -> str | None:
        return None

    def sender_refusal(self, sender_id: str) -> Refusal | None:
        return None if owner_of(sender_id) == self.name() else BAD_REQUEST  # only Telegram conversations

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if not os.environ.get("EMBUDO_GATEWAY_TOKEN"):
            log.warning("EMBUDO_GATEWAY_TOKEN is not set: the Telegram gateway's channel refuses every call")
        return super().blueprint(on_new_message)
