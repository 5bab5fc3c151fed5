"""What a visitor told the rep during a live takeover, read as answers to the form's questions still open, so
that after the hand-back the bot does not ask again what the rep already learned.

Only what a message says unmistakably is taken (an e-mail, a phone number, a budget, a timeline, who decides
said in the first person, a company or a name introduced as such), and only for a question no answer filled
yet: the visitor was talking to a person, not answering the bot, so nothing here overrides an answer.
"""

from typing import Any

from crm_core.models import Authority
from crm_core.understanding import (
    find_company,
    find_email,
    find_person_name,
    find_phone,
    mentions_budget,
    mentions_timeline,
    parse_authority,
    parse_budget,
    parse_company_size,
    parse_timeline_days,
)

Slots = dict[str, Any]

_FIRST_PERSON = {"i", "i'm", "im", "my", "we", "we're", "soy", "yo", "mi", "somos", "decido", "apruebo"}


def visitor_lines_while_paused(events: list[dict[str, Any]]) -> list[str]:
    """The visitor's messages since the conversation was last paused for a person, in order."""
    paused_at = next((i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "pause"), None)
    if paused_at is None:
        return []
    return [
        str(event.get("text") or "").strip()
        for event in events[paused_at:]
        if event.get("event") == "user" and str(event.get("text") or "").strip()
    ]


def _first_person(text: str) -> bool:
    return any(word.strip(".,;:!?¡¿") in _FIRST_PERSON for word in text.lower().split())


def _budget(text: str) -> Slots:
    budget = parse_budget(text) if mentions_budget(text) else None
    if budget is None or (budget.amount is None and not budget.none_yet):
        return {}
    return {
        "budget": text,
        "budget_amount": str(budget.amount) if budget.amount is not None else None,
        "budget_currency": budget.currency,
        "budget_none_yet": budget.none_yet,
        "budget_period": budget.period,
    }


def told_the_rep(
    lines: list[str], slots: Slots, *, tz_name: str | None, language: str, regions: tuple[str, ...]
) -> Slots:
    """The answers to open questions (slots that are None) found in ``lines``, as the form's validation would
    have stored them. A later line wins over an earlier one for the same question ("sorry, it's 15k")."""
    found: Slots = {}

    def open_(slot: str) -> bool:
        return slots.get(slot) is None

    for text in lines:
        if open_("email") and (email := find_email(text)):
            found["email"] = email
        if open_("phone") and (phone := find_phone(text, regions)):
            found["phone"] = phone
        if open_("budget"):
            found |= _budget(text)
        if open_("timeline") and mentions_timeline(text, tz_name=tz_name):
            days = parse_timeline_days(text, tz_name=tz_name, language=language)
            if days is not None:
                found |= {"timeline": text, "timeline_days": days}
        if open_("authority") and _first_person(text):
            authority = parse_authority(text)
            if authority is not Authority.UNKNOWN:
                found["authority"] = authority.value
        if open_("company") and (company := find_company(text)):
            found["company"] = company
            size = parse_company_size(text)
            if size is not None and open_("company_size"):
                found["company_size"] = size
        if open_("person_name") and (name := find_person_name(text)):
            found["person_name"] = name
    return found
