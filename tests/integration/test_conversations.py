"""Three whole conversations through the real Rasa server, action server and CRM database.

The visitor wording here is not in data/nlu.yml on purpose: the model has to generalise.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from crm_core.chats.transcripts import sync_transcripts, transcript
from crm_core.db import unit_of_work
from crm_core.models import Authority, Contact, MessageRole, Qualification, Stage, Temperature
from crm_core.people.reps import add_rep
from crm_core.schemas import NewRep
from tests.harness import Stack, running_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as stack:
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Rosa Diaz", languages=["en", "es"]))
        yield stack


def texts(replies: list[dict[str, object]]) -> str:
    return "\n".join(str(reply.get("text", "")) for reply in replies)


def converse(stack: Stack, sender: str, turns: list[str]) -> list[str]:
    return [texts(stack.say(sender, turn)) for turn in turns]


def test_hot_decision_maker_with_budget_becomes_an_assigned_sql(stack: Stack) -> None:
    sender = "it-hot"
    visitor_turns = [
        "good afternoon",
        "we want software that answers the enquiries coming in through our website",
        "we have roughly 40k dollars set aside",
        "I am the co-founder and I sign the contracts",
        "we would like it running in three weeks",
        "Contoso Ltd",
        "Dana Scully",
    ]
    replies = converse(stack, sender, visitor_turns)
    assert "budget" in replies[1].lower()
    assert "e-mail" in replies[-1].lower()

    bad_email = texts(stack.say(sender, "dana.scully@"))
    assert "doesn't look like a valid e-mail" in bad_email
    assert stack.tracker(sender)["slots"]["email"] is None

    assert "contact you" in texts(stack.say(sender, "dana@contoso.example")).lower()
    closing = texts(stack.say(sender, "/affirm"))
    assert "Rosa Diaz" in closing, closing

    lead = stack.lead(sender)
    assert lead.qualification is Qualification.SQL
    assert lead.temperature is Temperature.HOT
    assert lead.stage is Stage.SQL
    assert lead.assigned_rep == "Rosa Diaz"
    assert lead.authority is Authority.DECISION_MAKER
    assert lead.budget_amount == 40000 and lead.budget_currency == "USD"
    assert lead.timeline_days == 21
    assert (lead.name, lead.email, lead.company) == ("Dana Scully", "dana@contoso.example", "Contoso Ltd")
    assert (lead.channel, lead.conversation_id) == ("rest", sender)
    assert lead.score >= 90
    assert {reason.component for reason in lead.reasons} >= {"need", "budget", "authority", "timeline", "fit"}

    with unit_of_work(stack.crm_url) as session:
        sync_transcripts(session, stack.events_url)
        copied = transcript(session, sender)
    assert copied.lead_id == lead.id and copied.channel == "rest"
    visitor = [m for m in copied.messages if m.role is MessageRole.VISITOR]
    assert [m.text for m in visitor][:2] == ["good afternoon", visitor_turns[1]]
    assert visitor[0].intent == "greet" and visitor[0].confidence is not None
    assert any(
        "doesn't look like a valid e-mail" in m.text for m in copied.messages if m.role is MessageRole.BOT
    )
    assert copied.slots["email"] == "dana@contoso.example"


def test_interested_visitor_without_a_timeframe_becomes_a_cold_mql(stack: Stack) -> None:
    sender = "it-cold"
    replies = converse(
        stack,
        sender,
        [
            "hey there",
            "our marketing team wants to see which campaigns bring in customers",
            "perhaps 8000 euros",
            "I lead the operations department",
            "honestly we have not decided when",
            "Fabrikam",
            "my name is Omar Haddad",
            "omar.haddad@fabrikam.example",
            "sure, go ahead",
        ],
    )
    assert "material" in replies[-1], replies
    lead = stack.lead(sender)
    assert lead.qualification is Qualification.MQL
    assert lead.temperature is Temperature.COLD
    assert lead.timeline_days is None
    assert lead.assigned_rep is None
    assert lead.name == "Omar Haddad"


def test_visitor_who_is_just_asking_is_disqualified(stack: Stack) -> None:
    sender = "it-curious"
    replies = converse(
        stack, sender, ["hi", "oh I'm merely asking out of curiosity, no plans to buy anything"]
    )
    assert "thanks for stopping by" in replies[-1].lower()
    lead = stack.lead(sender)
    assert lead.qualification is Qualification.DISQUALIFIED
    assert lead.assigned_rep is None
    assert lead.stage is Stage.NEW


def test_a_correction_after_the_lead_was_saved_updates_the_lead_and_its_contact(stack: Stack) -> None:
    sender = "it-correction"
    converse(
        stack,
        sender,
        [
            "good evening to you",
            "we want a chat assistant that books viewings for our flats",
            "our budget sits at about 12000 dollars",
            "I own the agency",
            "we hope to launch in five months",
            "Harbour Homes",
            "Mia Stone",
            "mia@harbourhomes.exmaple",
        ],
    )
    closing = texts(stack.say(sender, "/affirm"))
    assert "Thanks, Mia" in closing, closing
    saved = stack.lead(sender)
    assert saved.email == "mia@harbourhomes.exmaple"

    reply = texts(stack.say(sender, "ugh, typo in my address, it is really mia@harbourhomes.example"))
    assert "updated your e-mail (mia@harbourhomes.example)" in reply, reply
    assert stack.tracker(sender)["slots"]["email"] == "mia@harbourhomes.example"
    lead = stack.lead(sender)
    assert (lead.id, lead.email, lead.name) == (saved.id, "mia@harbourhomes.example", "Mia Stone")
    with unit_of_work(stack.crm_url) as session:
        emails = set(session.scalars(select(Contact.email)))
    assert "mia@harbourhomes.exmaple" not in emails

    reply = texts(stack.say(sender, "and we need it sooner after all: within three weeks"))
    assert "updated your timeline" in reply, reply
    lead = stack.lead(sender)
    assert lead.timeline_days == 21 and lead.qualification is Qualification.SQL


def test_stop_ends_the_form_and_says_so(stack: Stack) -> None:
    sender = "it-stop"
    assert "budget" in texts(stack.say(sender, "a widget to answer questions about our courses")).lower()
    stopped = texts(stack.say(sender, "actually stop here please, no more"))
    assert "I've stopped" in stopped, stopped
    assert stack.tracker(sender)["active_loop"] in ({}, None)


def test_a_time_for_a_call_before_any_question_starts_the_qualification(stack: Stack) -> None:
    # Written like the pick of an offered time, but nothing was offered: a request for a call.
    sender = "it-call-first"
    reply = texts(stack.say(sender, "wednesday at half past two works for a call with your team"))
    assert "Happy to set that up" in reply, reply
    assert "What are you looking for?" in reply, reply
    assert stack.tracker(sender)["active_loop"].get("name") == "qualification_form"
