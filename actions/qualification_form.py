"""Validation of the qualification form: each answer is normalised by crm_core.understanding or re-asked.

Beyond the question asked, every answer is searched for the other facts a visitor may volunteer ("I'm the
CTO at Acme, we need it next month, about 20k"): those slots are filled too and their questions skipped.
The same search takes corrections ("actually my e-mail is …"). "I'd rather not say" marks the question
unknown, and so does a third failed attempt: the form never loops.
"""

import logging
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.capture_lead import facts_from_slots, lead_slots, next_steps, save_lead, say_next_steps
from actions.contact import next_question
from actions.crm_writes import keep_writing
from actions.dialogue import (
    SKIPPED,
    current_language,
    latest_intent,
    likely_intents,
    phone_regions_of,
    time_zone,
)
from actions.edits import edit_of, question_edited
from crm_core.chats.transcripts import FAILED_TURN
from crm_core.models import Authority
from crm_core.understanding import (
    find_company,
    find_person_name,
    is_correction,
    is_question,
    mentions_budget,
    mentions_email,
    mentions_timeline,
    parse_authority,
    parse_budget,
    parse_company,
    parse_company_size,
    parse_email,
    parse_person_name,
    parse_phone,
    parse_timeline_days,
    parse_yes_no,
    says_bought_elsewhere,
    says_has_none,
    says_not_buying,
    states_need,
)

log = logging.getLogger(__name__)

Slots = dict[str, Any]

# Messages that may carry answers; other intents (questions, stop, …) are handled by rules. A request for a
# quote may come with facts ("a quote for 3 sites by Friday").
ANSWER_INTENTS = {"inform", "affirm", "deny", "nlu_fallback", "request_sales", None}
# Answers only: a message fills the question asked only when it answers it. Off-topic input and small talk
# (also as the classifier's best guess for an unsure message) get their reply and the question again — except
# where the answer is a name (a company, a person), which nothing the classifier was trained on looks like
# ("Lakeshore Cycles" scored as out of scope once), unless it is a question. Any other question that the
# parser can't read as an answer is acknowledged and the question asked again; at the need question a
# question can be the need ("can you qualify leads on our site?").
OFF_TOPIC_INTENTS = {"out_of_scope", "chitchat"}
NAME_SLOTS = {"company", "person_name"}
# A message the classifier is unsure about, or off-topic input, where asking for a person is one of the two
# best guesses with at least OFFER_CONFIDENCE: the visitor is offered a person (a button) before the question
# is asked again. An unneeded offer costs one click, a missed one keeps a visitor who asked for a person
# answering questions.
OFFERED_INTENTS = {"request_human": "utter_offer_human"}
OFFER_CONFIDENCE = 0.1
# Questions a visitor may truly have no answer to ("I don't have an e-mail"): skipped, not asked again.
# (A plain "no" to "and your name?" declines it the same way.)
CAN_HAVE_NONE = {"email", "phone", "company", "person_name"}
MAX_ATTEMPTS = 3
# What a skipped slot is set to (the form needs a value to move on).
SKIP_VALUES: Slots = {"consent": False}
_FIRST_PERSON = ("i", "i'm", "im", "i am", "my", "we", "soy", "yo", "mi", "somos")
AUTHORITY_VALUES = frozenset(authority.value for authority in Authority)


def _stored(slot: str, value: Any) -> bool:
    """Whether ``value`` is already what this slot's validation stores, not a visitor's words: a skipped
    answer, a role read before, a consent given. When the form starts again (a returning visitor's "hi", a
    retried turn) Rasa validates every stored slot once more, and each must stay as it was: re-reading
    "decision_maker" as words gave `unknown`, and an SQL lead became an MQL that lost its rep."""
    if value == SKIPPED or (slot in SKIP_VALUES and value == SKIP_VALUES[slot]):
        return True
    if slot == "consent":
        return isinstance(value, bool)
    return slot == "authority" and value in AUTHORITY_VALUES


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _message(tracker: Tracker) -> str:
    return _text(tracker.latest_message.get("text"))


def _volunteered(tracker: Tracker, slot: str) -> bool:
    """Whether this message may carry ``slot`` although another question was asked (or none): it fills a
    question not answered yet, and replaces an answer only as a correction ("oops, I meant 7,000"). "The
    partner approves anything over a grand" at the role question is no new budget."""
    if tracker.get_slot(REQUESTED_SLOT) == slot or latest_intent(tracker) not in ANSWER_INTENTS:
        return False
    return tracker.get_slot(slot) in (None, SKIPPED) or is_correction(_message(tracker))


def _said_again(tracker: Tracker) -> bool:
    """Whether the visitor's message repeats their previous one while the same question was asked: then it is
    their answer, whatever the classifier made of it twice."""
    asked, said, question_changed = tracker.get_slot(REQUESTED_SLOT), [], False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            said.append(" ".join(str(event.get("text") or "").lower().split()))
            if len(said) == 2:
                break
        elif said and event.get("event") == "slot" and event.get("name") == REQUESTED_SLOT:
            question_changed = question_changed or event.get("value") != asked
    return len(said) == 2 and said[0] == said[1] and bool(said[0]) and not question_changed


def _said_while_failing(tracker: Tracker) -> list[str]:
    """What the visitor wrote, newest first, in the turns just before this one that failed (the action
    server was down: the failsafe channel answered, marked ``failed_turn``, and nothing was validated)."""
    said: list[str] = []
    failed, current = False, True
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user" and current:
            current = False
        elif kind == "bot":
            if (event.get("metadata") or {}).get("embudo") != FAILED_TURN:
                break
            failed = True
        elif kind == "user" and failed:
            said.append(_text(event.get("text")))
            failed = False
    return [text for text in said if text]


def _first_person(text: str) -> bool:
    words = text.lower().replace(",", " ").split()
    return any(word in _FIRST_PERSON for word in words)


class ValidateQualificationForm(FormValidationAction):  # type: ignore[misc]
    def name(self) -> str:
        return "validate_qualification_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """A message that does not answer the question asked gets its reply (or the offer of a person) and the
        question again, and is stored nowhere; anything else is validated. Said again to the same question,
        a message is the visitor's answer, whatever it looked like; a third non-answer skips the question."""
        asked = tracker.get_slot(REQUESTED_SLOT)
        text, intent, repeated = _message(tracker), latest_intent(tracker), _said_again(tracker)
        if edit_of(tracker) is not None and (edited := question_edited(tracker)) != asked:
            corrected = self._apply_edit(edited, asked, text, dispatcher, tracker, domain)
            tracker.add_slots(corrected)
            return [*corrected, await self.next_requested_slot(dispatcher, tracker, domain)]
        if intent == "stop":
            if not self._stop_answers(asked, text, tracker):
                dispatcher.utter_message(response="utter_form_stopped")  # nothing more is asked or stored
                stopped = [SlotSet("form_stopped", True), SlotSet(REQUESTED_SLOT, None)]
                return [SlotSet(asked, None), *stopped] if asked else stopped
            tracker.add_slots([SlotSet(asked, text)])  # "para ayer", "no email, call me": an answer
        if asked and asked not in tracker.slots_to_validate() and repeated:
            tracker.add_slots([SlotSet(asked, text)])
        recovered = self._answer_given_while_failing(asked, text, tracker)
        if recovered:  # the visitor's answer from when the action server was down, used now it is back
            tracker.add_slots([SlotSet(asked, recovered)])
        filled = tracker.slots_to_validate()
        others = [slot for slot in filled if slot not in (asked, REQUESTED_SLOT)]
        events: list[EventType] = []
        if asked in filled and not others and not repeated and not recovered:  # other facts: validated
            reply = self._reply_to_non_answer(tracker, asked)
            if reply == "just_asking":  # "I'm only looking": nothing more to ask, a disqualified lead
                return [SlotSet(asked, None), SlotSet(REQUESTED_SLOT, None)]
            if reply is not None:
                events = self._not_an_answer(asked, reply, dispatcher, tracker)
                tracker.add_slots(events)  # the form's own order picks the next question (phone only …)
                return [*events, await self.next_requested_slot(dispatcher, tracker, domain)]
            if intent == "just_asking":  # it answered the question after all ("I'm only the researcher")
                events.append(SlotSet("just_asking", None))
        if intent in ANSWER_INTENTS and says_not_buying(text):
            # "no purchase planned", "it's for my thesis": nothing more to ask, the lead is disqualified
            events.append(SlotSet("just_asking", True))
        if (
            intent in ANSWER_INTENTS
            and says_bought_elsewhere(text)
            and not tracker.get_slot("bought_competitor")
        ):
            # "we went with another provider last week": parked for a later check-in, contact first
            dispatcher.utter_message(response="utter_nurture_ack")
            events.append(SlotSet("bought_competitor", True))
        if tracker.get_slot("company_size") is None and (size := parse_company_size(text)) is not None:
            events.append(SlotSet("company_size", size))  # "(we're about 40 people)" in any answer
        tracker.add_slots(events)
        events += await super().run(dispatcher, tracker, domain)
        keep_writing()  # captures the CRM could not take before (e.g. before a restart) are written now
        handed_over = await self._hand_over_once_reachable(dispatcher, tracker, events)
        return events + (handed_over or await self._keep_the_rep_informed(tracker, events))

    def _apply_edit(
        self,
        edited: str | None,
        asked: str | None,
        text: str,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[EventType]:
        """An edit of the visitor's previous answer replaces that answer (validated as it was), never the
        answer to the question asked now; an edit we cannot place is said so and changes nothing."""
        # Rasa read the new text as the answer to the question asked now: it is not.
        events: list[EventType] = [SlotSet(asked, None)] if asked in tracker.slots_to_validate() else []
        validate = getattr(self, f"validate_{edited}", None) if edited else None
        if validate is None or tracker.get_slot(str(edited)) in (None, SKIPPED):
            dispatcher.utter_message(response="utter_edit_not_applied")
            return events
        validated = validate(text, dispatcher, tracker, domain)
        if validated.get(edited) is None:  # the validator said why; the earlier answer stands
            return events
        dispatcher.utter_message(response="utter_edit_applied")
        return events + [SlotSet(slot, value) for slot, value in validated.items()]

    def _answer_given_while_failing(self, asked: str | None, text: str, tracker: Tracker) -> str | None:
        """The newest message written during failed turns that answers ``asked``, when this one does not."""
        said = _said_while_failing(tracker) if asked else []
        if not asked or not said or self._answers(asked, text, tracker):
            return None
        return next((earlier for earlier in said if self._answers(asked, earlier, tracker)), None)

    def _not_an_answer(
        self, asked: str, reply: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """Reply and ask again; the third time in a row the question is left (the form never loops)."""
        retries = dict(tracker.get_slot("retries") or {})
        retries[asked] = int(retries.get(asked, 0)) + 1
        if retries[asked] >= MAX_ATTEMPTS:
            return [
                SlotSet(slot, value)
                for slot, value in self._skip(asked, dispatcher, "utter_skip_after_retries").items()
            ]
        dispatcher.utter_message(response=reply)
        return [SlotSet(asked, None), SlotSet("retries", retries)]

    @staticmethod
    async def _hand_over_once_reachable(
        dispatcher: CollectingDispatcher, tracker: Tracker, events: list[EventType]
    ) -> list[EventType]:
        """A visitor who asked for a person is handed over as soon as they can be reached, not after the
        remaining questions; those follow, so the person comes prepared (the lead is updated at the end)."""
        facts = facts_from_slots(tracker.current_slot_values())  # validated values are already in
        asks_next = next((e["value"] for e in events if e.get("name") == REQUESTED_SLOT), None)
        wants_person = tracker.get_slot("wants_person") is True and tracker.get_slot("handed_off") is not True
        if not (wants_person and (facts.email or facts.phone) and asks_next):
            return []  # not yet reachable, or nothing left to ask: the lead is captured as the form ends
        try:
            lead = await save_lead(tracker, hand_over=True)
        except OSError:
            log.exception("could not hand over the lead of conversation %s", tracker.sender_id)
            return []  # the hand-off is tried again when the form ends
        if lead is None:  # kept with its hand-over, written once the CRM can take it
            dispatcher.utter_message(response="utter_lead_saving")
            return [SlotSet("handed_off", True)]
        response = next_steps(lead.qualification, True, facts.email or facts.phone, True, lead.assigned_rep)
        say_next_steps(dispatcher, response, facts, lead)
        dispatcher.utter_message(response="utter_while_you_wait")
        return [SlotSet("handed_off", True), *lead_slots(lead)]

    @staticmethod
    async def _keep_the_rep_informed(tracker: Tracker, events: list[EventType]) -> list[EventType]:
        """A lead already with a person gets a new e-mail or phone at once, not when the form ends: the
        visitor nobody could join in time leaves it for a callback and may close the chat right after."""
        given = [
            e for e in events if e.get("name") in ("email", "phone") and e.get("value") not in (None, SKIPPED)
        ]
        if not (given and tracker.get_slot("handed_off") is True):
            return []
        try:
            lead = await save_lead(tracker, hand_over=False)  # validated values are already in
        except OSError:
            log.exception("could not store the new contact of conversation %s", tracker.sender_id)
            return []  # the lead is updated again when the form ends
        return lead_slots(lead) if lead is not None else []  # None: kept, written once the CRM can

    def _reply_to_non_answer(self, tracker: Tracker, asked: str) -> str | None:
        """The reply to a message that does not answer the question for ``asked``, or None when it does
        ("just_asking" when it says the visitor is only looking)."""
        text, intent = _message(tracker), latest_intent(tracker)
        unsure = intent == "nlu_fallback"
        if unsure or intent in OFF_TOPIC_INTENTS:
            offers = [
                OFFERED_INTENTS[g]
                for g in likely_intents(tracker, at_least=OFFER_CONFIDENCE)
                if g in OFFERED_INTENTS
            ]
            if offers:
                return offers[0]
        if self._answers(asked, text, tracker):
            return None
        best_guesses = likely_intents(tracker, count=1)
        guess = (best_guesses[0] if best_guesses else None) if unsure else intent
        if guess == "just_asking":
            return "just_asking"
        if guess in OFF_TOPIC_INTENTS and (asked not in NAME_SLOTS or is_question(text)):
            return f"utter_{guess}"
        if guess == "request_sales" and (asked != "need" or is_question(text)):
            return "utter_sales_in_form"  # a statement at the need question is the need, however it reads
        if is_question(text) and asked != "need":
            return "utter_question_noted"
        return None

    # ------------------------------------------------------------------ which question comes next

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        """The first question not answered yet (``actions.contact.next_question``)."""
        return SlotSet(REQUESTED_SLOT, next_question(dict(tracker.slots), self.domain_slots(domain)))

    # ------------------------------------------------------------------ facts volunteered in passing

    async def extract_need(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        """A visitor who opens with what they need has answered the first question already — also when the
        opening asks for a quote or a demo and says what for ("a quote for a booking bot for our clinics")."""
        opening = tracker.get_slot(REQUESTED_SLOT) is None and tracker.get_slot("need") is None
        text, intent = _message(tracker), latest_intent(tracker)
        if opening and text and (intent == "inform" or (intent == "request_sales" and states_need(text))):
            return {"need": text}
        return {}

    async def extract_budget(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        text = _message(tracker)
        return {"budget": text} if _volunteered(tracker, "budget") and mentions_budget(text) else {}

    async def extract_authority(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        text = _message(tracker)
        if not _volunteered(tracker, "authority") or not _first_person(text):
            return {}
        return {"authority": text} if parse_authority(text) is not Authority.UNKNOWN else {}

    async def extract_timeline(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        text = _message(tracker)
        stated = mentions_timeline(text, tz_name=time_zone(tracker))
        return {"timeline": text} if _volunteered(tracker, "timeline") and stated else {}

    async def extract_company(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if not _volunteered(tracker, "company"):
            return {}
        company = find_company(_message(tracker))
        return {"company": company} if company else {}

    async def extract_person_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if not _volunteered(tracker, "person_name"):
            return {}
        name = find_person_name(_message(tracker))
        return {"person_name": name} if name else {}

    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        text = _message(tracker)
        return {"email": text} if _volunteered(tracker, "email") and mentions_email(text) else {}

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if not _volunteered(tracker, "phone"):
            return {}
        phone = parse_phone(_message(tracker), self._region(tracker))
        return {"phone": phone} if phone else {}

    # ------------------------------------------------------------------ validation

    @staticmethod
    def _region(tracker: Tracker) -> tuple[str, ...]:
        return phone_regions_of(tracker)

    @staticmethod
    def _days(text: str, tracker: Tracker) -> int | None:
        """Days until needed, counted from today where the visitor is."""
        return parse_timeline_days(text, tz_name=time_zone(tracker), language=current_language(tracker))

    def _skipped(self, tracker: Tracker, slot: str) -> bool:
        """ "I'd rather not say" to this question, or "I don't have one" (or just "no") where that can be
        true (an e-mail, a phone, a company), and the message does not answer it after all (the classifier
        took "I own the business" for a refusal once; the parser knows better)."""
        if tracker.get_slot(REQUESTED_SLOT) != slot:
            return False
        text, intent = _message(tracker), latest_intent(tracker)
        has_none = slot in CAN_HAVE_NONE and (intent == "deny" or says_has_none(text))
        return (intent == "rather_not_say" or has_none) and not self._answers(slot, text, tracker)

    def _stop_answers(self, asked: str | None, text: str, tracker: Tracker) -> bool:
        """Whether a message classified as "stop" answers the question after all ("urgente, para ayer" at
        the timeline, "no email please, call me" at the e-mail). At the consent question a stop is a stop."""
        if asked is None or asked == "consent":
            return False
        return self._answers(asked, text, tracker) or (asked in CAN_HAVE_NONE and says_has_none(text))

    def _answers(self, slot: str, text: str, tracker: Tracker) -> bool:
        """Whether ``text`` plainly answers the question for ``slot``, read by crm_core.understanding."""
        readers: dict[str, Any] = {
            "budget": lambda: parse_budget(text) is not None,
            "authority": lambda: parse_authority(text) is not Authority.UNKNOWN,
            "timeline": lambda: self._days(text, tracker) is not None,
            "company": lambda: find_company(text) is not None,
            "person_name": lambda: find_person_name(text) is not None,
            "email": lambda: parse_email(text) is not None,
            "phone": lambda: parse_phone(text, self._region(tracker)) is not None,
            "consent": lambda: parse_yes_no(text) is not None,
        }
        return bool(readers[slot]()) if slot in readers else False

    @staticmethod
    def _skip(slot: str, dispatcher: CollectingDispatcher, response: str = "utter_skip_ok") -> Slots:
        dispatcher.utter_message(response=response)
        return {slot: SKIP_VALUES.get(slot, SKIPPED)}

    def _reject(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, response: str, **kwargs: Any
    ) -> Slots:
        """An answer that does not fit: ask again, or after MAX_ATTEMPTS move on without it.

        When the message carried something else (a correction, another fact), the question is simply
        asked again, without an error message.
        """
        others = [name for name in tracker.slots_to_validate() if name not in (slot, REQUESTED_SLOT)]
        if others or tracker.get_slot(REQUESTED_SLOT) != slot:
            return {slot: None}
        retries = dict(tracker.get_slot("retries") or {})
        retries[slot] = int(retries.get(slot, 0)) + 1
        if retries[slot] >= MAX_ATTEMPTS:
            return {**self._skip(slot, dispatcher, "utter_skip_after_retries"), "retries": retries}
        dispatcher.utter_message(response=response, **kwargs)
        return {slot: None, "retries": retries}

    def validate_need(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("need", value):
            return {"need": value}
        if self._skipped(tracker, "need"):
            return self._skip("need", dispatcher)
        need = _text(value)
        if not need:
            return self._reject("need", dispatcher, tracker, "utter_invalid_answer")
        return {"need": need[:2000]}

    def validate_budget(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("budget", value):
            return {"budget": value}
        if self._skipped(tracker, "budget"):
            return {
                **self._skip("budget", dispatcher),
                "budget_amount": None,
                "budget_currency": None,
                "budget_period": None,
            }
        budget = parse_budget(_text(value))
        if budget is None:
            return self._reject("budget", dispatcher, tracker, "utter_invalid_budget")
        return {
            "budget": _text(value),
            "budget_amount": str(budget.amount) if budget.amount is not None else None,
            "budget_currency": budget.currency,
            "budget_none_yet": budget.none_yet,
            "budget_period": budget.period,
        }

    def validate_authority(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("authority", value):
            return {"authority": value}
        if self._skipped(tracker, "authority"):
            return self._skip("authority", dispatcher)
        if not _text(value):
            return self._reject("authority", dispatcher, tracker, "utter_invalid_answer")
        authority = parse_authority(_text(value))
        others = [name for name in tracker.slots_to_validate() if name not in ("authority", REQUESTED_SLOT)]
        if authority is Authority.UNKNOWN and others:
            return {"authority": None}  # the message was about something else (an e-mail): ask again
        return {"authority": authority.value}

    def validate_timeline(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("timeline", value):
            return {"timeline": value}
        if self._skipped(tracker, "timeline"):
            return {**self._skip("timeline", dispatcher), "timeline_days": None}
        text = _text(value)
        if not text:
            return self._reject("timeline", dispatcher, tracker, "utter_invalid_answer")
        days = self._days(text, tracker)
        others = [name for name in tracker.slots_to_validate() if name not in ("timeline", REQUESTED_SLOT)]
        if days is None and others and not mentions_timeline(text, tz_name=time_zone(tracker)):
            return {"timeline": None}  # the message was about something else: ask again
        return {"timeline": text, "timeline_days": days}

    def validate_company(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("company", value):
            return {"company": value}
        if self._skipped(tracker, "company"):
            return self._skip("company", dispatcher)
        text = _text(value)
        if self._is_a_yes(tracker, "company"):
            return self._reject("company", dispatcher, tracker, "utter_invalid_answer")
        if tracker.get_slot(REQUESTED_SLOT) == "company" and (
            mentions_email(text) or self._has_phone(tracker)
        ):
            return {"company": None}  # a correction of the contact, not a company
        size = parse_company_size(text)
        company = find_company(text) or parse_company(text.split(",")[0] if size is not None else text)
        if company is None:
            return self._reject("company", dispatcher, tracker, "utter_invalid_answer")
        slots: Slots = {"company": company}
        if size is not None:
            slots["company_size"] = size
        return slots

    def validate_person_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("person_name", value):
            return {"person_name": value}
        if self._skipped(tracker, "person_name"):
            return self._skip("person_name", dispatcher)
        text = _text(value)
        if self._is_a_yes(tracker, "person_name"):
            return self._reject("person_name", dispatcher, tracker, "utter_invalid_answer")
        if tracker.get_slot(REQUESTED_SLOT) == "person_name" and (
            mentions_email(text) or self._has_phone(tracker)
        ):
            return {"person_name": None}
        name = find_person_name(text) or parse_person_name(text)
        if name is None:
            return self._reject("person_name", dispatcher, tracker, "utter_invalid_answer")
        return {"person_name": name}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("email", value):
            return {"email": value}
        if self._skipped(tracker, "email"):
            return self._skip("email", dispatcher)
        email = parse_email(_text(value))
        if email is None:
            phone = parse_phone(_text(value), self._region(tracker))
            if phone is not None and tracker.get_slot(REQUESTED_SLOT) == "email":
                return {"email": SKIPPED, "phone": phone}  # a phone number instead of an e-mail is fine
            return self._reject("email", dispatcher, tracker, "utter_invalid_email", email=_text(value)[:80])
        return {"email": email}

    def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("phone", value):
            return {"phone": value}
        if self._skipped(tracker, "phone"):
            return self._skip("phone", dispatcher)
        phone = parse_phone(_text(value), self._region(tracker), possible=self._asked(tracker, "phone"))
        if phone is None:
            return self._reject("phone", dispatcher, tracker, "utter_invalid_phone")
        return {"phone": phone}

    def validate_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if _stored("consent", value):
            return {"consent": value}
        if self._skipped(tracker, "consent"):
            return self._skip("consent", dispatcher)
        answer = {"affirm": True, "deny": False}.get(latest_intent(tracker) or "")
        if answer is None:
            answer = parse_yes_no(_text(value))  # "yes, drop me a line" the classifier may not know
        if answer is None:
            return self._reject("consent", dispatcher, tracker, "utter_invalid_consent")
        return {"consent": answer}

    @staticmethod
    def _asked(tracker: Tracker, slot: str) -> bool:
        return bool(tracker.get_slot(REQUESTED_SLOT) == slot)

    @staticmethod
    def _is_a_yes(tracker: Tracker, slot: str) -> bool:
        """ "Yes" / "sure" to "which company?" or "and your name?" is no name at all."""
        return tracker.get_slot(REQUESTED_SLOT) == slot and latest_intent(tracker) == "affirm"

    def _has_phone(self, tracker: Tracker) -> bool:
        return parse_phone(_message(tracker), self._region(tracker)) is not None
