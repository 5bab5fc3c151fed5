"""The gateway's messages to Telegram chats that are not sent yet, kept on local disk.

A message is written here before its first attempt and removed once the Bot API took it (or refused it
for good, or may have taken it): a gateway stopped while a message waits out an outage sends it at its
next start. Each message is one JSON file (under ``EMBUDO_TELEGRAM_PENDING_DIR``), replaced atomically,
named so that a chat's messages sort in the order they were said.

At most once, as the notifier's outbox (README, "Rep hand-off"): the file says ``sending`` while a request
is out and ``waiting`` once the Bot API answered that it did not take it. A gateway killed with a request
out left ``sending``: that message may have reached the chat, so it is never sent again (an admin alert).
"""

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.telegram.delivery import ALERT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingReply:
    path: Path
    chat_id: int
    text: str
    markup: dict[str, Any] | None  # the reply markup as the Bot API takes it (``to_dict()``)
    markup_kind: str | None  # its python-telegram-bot class name


class PendingReplies:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def add(
        self, chat_id: int, text: str, markup: dict[str, Any] | None, markup_kind: str | None
    ) -> PendingReply:
        """Keeps a message before it is first sent."""
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        reply = PendingReply(self.folder / name, chat_id, text, markup, markup_kind)
        self._write(reply, "waiting")
        return reply

    def sending(self, reply: PendingReply) -> None:
        """A request for it is about to go out."""
        self._write(reply, "sending")

    def not_taken(self, reply: PendingReply) -> None:
        """The Bot API answered that it did not take it (flood control, a 5xx, no connection)."""
        self._write(reply, "waiting")

    def done(self, reply: PendingReply) -> None:
        """Sent, refused for good, or maybe sent: never to be sent again."""
        reply.path.unlink(missing_ok=True)

    def left_over(self) -> list[PendingReply]:
        """What a stopped gateway did not send, oldest first, to send now. A message whose request was out
        when it stopped may have arrived: it is dropped with an admin alert, never sent twice."""
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                reply = PendingReply(
                    path, int(data["chat_id"]), str(data["text"]), data.get("markup"), data.get("markup_kind")
                )
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.error(
                    "%s: unreadable pending Telegram message %s (%s): left in place", ALERT, path, error
                )
                continue
            if data.get("state") == "sending":
                log.error(
                    "%s: the gateway stopped while sending a message to chat %s; it may have arrived, so it "
                    "is not sent again: %r",
                    ALERT,
                    reply.chat_id,
                    reply.text[:200],
                )
                self.done(reply)
                continue
            found.append(reply)
        return found

    @staticmethod
    def _write(reply: PendingReply, state: str) -> None:
        data = {
            "chat_id": reply.chat_id,
            "text": reply.text,
            "markup": reply.markup,
            "markup_kind": reply.markup_kind,
            "state": state,
        }
        partial = reply.path.with_suffix(".part")
        partial.write_text(json.dumps(data))  # survives the process, not the machine: no fsync per message
        os.replace(partial, reply.path)
