"""Small conversational actions: opening an enquiry (and returning visitors), explaining a question, the
fallback's "did you mean …?"."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import SKIPPED, current_language, latest_intent, likely_intents, response_text

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
    "wants_person",
    "handed_off",
    "qualification",
    "retries",
)
# How an enquiry opens, by what the visitor's message was: a greeting, a request for a quote or a demo, or
# a question already answered (the FAQ, "are you a bot?", small talk) that leads on to the questions.
OPENING_LINES = {
    "request_sales": "utter_sales_intro",
    "book_meeting": "utter_sales_intro",  # a time for a call before any lead (sent by ActionBookMeeting)
    "faq": "utter_bridge_to_questions",
    "bot_challenge": "utter_bridge_to_questions",
    "chitchat": "utter_bridge_to_questions",
}
# What the fallback may offer as "did you mean …?", each labelled in the visitor's words (utter_label_*): the
# requests a visitor would recognise as theirs. "Did you mean 'hello'?" or a placeholder such as "something
# else" helps nobody: then the visitor is asked to rephrase.
OFFERED_REQUESTS = (
    "request_sales", "request_human", "just_asking", "bought_competitor", "bot_challenge", "stop",
    "change_language", "why_ask", "rather_not_say",
)  # fmt: skip


class ActionOpenEnquiry(Action):  # type: ignore[misc]
    """Opens the qualification: a greeting (or the answer to a request for a quote), and for a returning
    visitor a new enquiry that keeps who they are."""

    def name(self) -> str:
        return "action_open_enquiry"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        name = tracker.get_slot("person_name")
        opening = OPENING_LINES.get(latest_intent(tracker) or "")
        if opening:
            dispatcher.utter_message(response=opening)
        elif name and name != SKIPPED:
            dispatcher.utter_message(response="utter_greet_returning", person_name=name)
        else:
            dispatcher.utter_message(response="utter_greet")
        # The rules start the form after a request for a quote; a call asked for with a time has no rule
        # of its own (its intent's rule books), so the form is started here.
        start = [FollowupAction("qualification_form")] if latest_intent(tracker) == "book_meeting" else []
        if tracker.get_slot("qualification") is None:
            return start  # the first enquiry is still under way: keep its answers
        return [SlotSet(slot, None) for slot in NEW_ENQUIRY_SLOTS] + start


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
        guesses = likely_intents(tracker, count=2)
        intent = next((guess for guess in guesses if guess in OFFERED_REQUESTS), None)
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
