"""Edited messages (Telegram): which answer an edit replaces.

The gateway relays an edit only when the edited message is the visitor's latest one, with metadata
``edit_of`` (the edited message's id; every relayed message carries its own as ``telegram_message_id``).
From the tracker we find the question that message answered: the form then reads the new text as the
answer to that question instead of the one asked now, and nothing else.
"""

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.forms import REQUESTED_SLOT


def edit_of(tracker: Tracker) -> Any:
    """The id of the message the latest one edits, or None when it is no edit."""
    return (tracker.latest_message.get("metadata") or {}).get("edit_of")


def question_edited(tracker: Tracker) -> str | None:
    """The question (slot) the edited message was the answer to, or None when the edited message is not the
    visitor's previous one or no question was asked then."""
    edited = edit_of(tracker)
    if edited is None:
        return None
    users_seen = 0
    for index in range(len(tracker.events) - 1, -1, -1):
        event = tracker.events[index]
        if event.get("event") != "user":
            continue
        users_seen += 1
        if users_seen == 2:  # the visitor's message before this edit
            if (event.get("metadata") or {}).get("telegram_message_id") != edited:
                return None
            return _asked_before(tracker.events[:index])
    return None


def _asked_before(events: list[dict[str, Any]]) -> str | None:
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == REQUESTED_SLOT:
            value = event.get("value")
            return value if isinstance(value, str) else None
    return None
