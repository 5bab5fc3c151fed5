"""Small conversational actions: greeting (returning visitors), explaining a question, the fallback."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import SKIPPED, current_language, response_text

# A returning visitor starts a new enquiry: what they need, budget and timing are asked again;
# who they are (name, company, role, contact, consent) is kept.
NEW_ENQUIRY_SLOTS = (
    "need",
    "budget",
    "budget_amount",
    "budget_currency",
    "budget_none_yet",
    "timeline",
    "timeline_days",
    "just_asking",
    "bought_competitor",
    "qualification",
    "retries",
)


class ActionGreet(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        name = tracker.get_slot("person_name")
        if not name or name == SKIPPED:
            dispatcher.utter_message(response="utter_greet")
            return []
        dispatcher.utter_message(response="utter_greet_returning", person_name=name)
        if tracker.get_slot("qualification") is None:
            return []  # the first enquiry is still under way: keep its answers
        return [SlotSet(slot, None) for slot in NEW_ENQUIRY_SLOTS]


class ActionExplainQuestion(Action):  # type: ignore[misc]
    """ "Why do you ask?": explains the question the form is waiting for."""

    def name(self) -> str:
        return "action_explain_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        response = f"utter_why_{tracker.get_slot('requested_slot')}"
        if response not in domain.get("responses", {}):
            response = "utter_why_general"
        dispatcher.utter_message(response=response)
        return []


class ActionDefaultAskAffirmation(Action):  # type: ignore[misc]
    """First stage of the two-stage fallback: "did you mean …?" in the visitor's language."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        language = current_language(tracker)
        ranking = tracker.latest_message.get("intent_ranking") or []
        intent = next(
            (str(item["name"]) for item in ranking if item.get("name") not in ("nlu_fallback", None)),
            None,
        )
        label = response_text(domain, f"utter_label_{intent}", language) if intent else None
        if intent is None or label is None:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        buttons = [
            {
                "title": response_text(domain, "utter_label_affirm", language) or "Yes",
                "payload": f"/{intent}",
            },
            {
                "title": response_text(domain, "utter_label_deny", language) or "No",
                "payload": "/out_of_scope",
            },
        ]
        dispatcher.utter_message(response="utter_ask_affirmation", intent_label=label, buttons=buttons)
        return []
