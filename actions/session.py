"""A new session keeps a person's conversation with the person.

Rasa starts a session after an hour's silence (`session_config`) or a restart, and every new session begins
unpaused: a visitor writing back to a rep the next morning would get the bot answering over the rep. This
action does what Rasa's own `action_session_start` does (a new session, the slots carried over) and pauses
the conversation again while crm_core.chats.ownership says a rep owns it.
"""

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.crm_writes import in_thread
from crm_core.chats import ownership
from crm_core.db import BOT, unit_of_work
from crm_core.errors import NotFound
from crm_core.models import Owner

log = logging.getLogger(__name__)


def owned_by_a_rep(sender_id: str) -> bool:
    try:
        with unit_of_work(author=BOT) as session:
            return ownership.current(session, sender_id).owner is Owner.REP
    except NotFound:
        return False  # a conversation the CRM has not seen yet belongs to the bot
    except SQLAlchemyError:
        log.exception("could not read who owns conversation %s; the bot answers", sender_id)
        return False


class ActionSessionStart(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        if domain.get("session_config", {}).get("carry_over_slots_to_new_session", True):
            slots = tracker.current_slot_values().items()
            events += [SlotSet(name, value) for name, value in slots if value is not None]
        events.append(ActionExecuted("action_listen"))
        if await in_thread(owned_by_a_rep, tracker.sender_id):
            events.append(ConversationPaused())  # the rep still answers: the bot stays quiet
        return events
