"""Winning back the lost and nurturing MQLs (``crm_core.outreach.winback``): what comes due and when, who is told,
who may be written to (consent, unsubscribes, erasure), each message once, in the lead's language, and the
visitor who answers coming back as a recycled lead with its revenue counted."""

import os
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm_core.db import unit_of_work
from crm_core.errors import InvalidInput
from crm_core.models import (
    Activity,
    ActivityKind,
    Conversation,
    Deal,
    Lead,
    Message,
    MessageRole,
    Outreach,
    Qualification,
    Stage,
    utcnow,
)
from crm_core.outreach import outreach_outbox, outreach_texts, winback
from crm_core.people.privacy import erase_contact
from crm_core.people.reps import add_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.reporting import kpis
from crm_core.sales.deals import open_deal
from crm_core.sales.leads import capture_lead
from crm_core.sales.lifecycle import move_lead
from crm_core.sales.pipeline import move_deal
from crm_core.scheduling.task_reminders import remind_due_tasks
from crm_core.schemas import ConversationRef, NewDeal, NewRep
from tests.unit.test_leads import HOT

NOW = utcnow()
TODAY = NOW.date()
LATER = NOW + timedelta(days=7)  # when the re-checks below are due


def lost_lead(
    session: Session,
    *,
    consent: bool = True,
    channel: str = "rest",
    sender: str = "web-1",
    facts: LeadFacts = HOT,
    language: str = "en",
    recheck_in_days: int = 7,
) -> Lead:
    """A qualified lead with a deal, the deal lost for price with a re-check a week from now."""
    captured = capture_lead(
        session,
        facts.model_copy(update={"consent": consent}),
        ConversationRef(channel=channel, sender_id=sender),
        language=language,
    )
    deal = open_deal(session, captured.id, NewDeal(title="Chatbot", value=Decimal("9000"), currency="EUR"))
    recheck = TODAY + timedelta(days=recheck_in_days)
    move_deal(session, deal.id, "lost", lost_reason="price", recheck_on=recheck)
    lead = session.get(Lead, captured.id)
    assert lead is not None
    return lead


def outreach(session: Session) -> list[Outreach]:
    return list(session.scalars(select(Outreach).order_by(Outreach.id)))


def test_a_lost_deal_comes_due_on_its_date_once_with_a_task_for_the_rep_and_a_message(
    session: Session,
) -> None:
    ana = add_rep(session, NewRep(name="Ana", languages=["en"]))
    lead = lost_lead(session)
    assert lead.assigned_rep_id == ana.id
    assert winback.find_due(session, LATER - timedelta(days=1)) == []  # not yet
    [recheck] = winback.find_due(session, LATER)
    assert (recheck.lead_id, recheck.rep_id) == (lead.id, ana.id)
    assert "lost (price)" in recheck.why and "by e-mail to ana@acme.example" in recheck.outcome
    [message] = outreach(session)
    assert (message.channel, message.address, message.language) == ("email", "ana@acme.example", "en")
    assert message.text.startswith("Hello Ana, this is Embudo's assistant.")
    assert "lead capture on our site" in message.text and f"/unsubscribe/{message.token}" in message.text
    task = session.get(Activity, message.activity_id)
    assert task is not None and task.kind is ActivityKind.TASK and task.rep_id == ana.id
    assert winback.find_due(session, LATER + timedelta(days=3)) == []  # once per due date
    assert remind_due_tasks(session, LATER) == [task.id]  # the rep is told through the task reminders


def test_a_lost_deal_without_a_date_is_re_checked_after_the_policys_days(session: Session) -> None:
    captured = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="a"))
    deal = open_deal(session, captured.id, NewDeal(title="Bot", value=Decimal("10"), currency="EUR"))
    move_deal(session, deal.id, "lost", lost_reason="timing")
    stored = session.get(Deal, deal.id)
    assert stored is not None and stored.recheck_on == TODAY + timedelta(days=180)  # the policy's 180
    assert winback.find_due(session, NOW + timedelta(days=179)) == []
    assert len(winback.find_due(session, NOW + timedelta(days=180))) == 1


def test_a_re_check_date_must_be_today_or_later_and_only_with_lost(session: Session) -> None:
    captured = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="b"))
    deal = open_deal(session, captured.id, NewDeal(title="Bot", value=Decimal("10"), currency="EUR"))
    with pytest.raises(InvalidInput, match="in the past"):
        move_deal(session, deal.id, "lost", lost_reason="price", recheck_on=TODAY - timedelta(days=1))
    with pytest.raises(InvalidInput, match="goes with a move to lost"):
        move_deal(session, deal.id, "proposal", recheck_on=TODAY)
    move_lead(session, captured.id, "lost", recheck_on=TODAY + timedelta(days=30))
    lead = session.get(Lead, captured.id)
    assert lead is not None and lead.recheck_on == TODAY + timedelta(days=30)
    move_lead(session, captured.id, "contacted", reopen=True)
    assert lead.recheck_on is None  # reopened: nothing to re-check


def test_deals_lost_with_their_lead_are_re_checked_with_it_once(session: Session) -> None:
    captured = capture_lead(
        session, HOT.model_copy(update={"consent": True}), ConversationRef(channel="rest", sender_id="d")
    )
    open_deal(session, captured.id, NewDeal(title="Bot", value=Decimal("10"), currency="EUR"))
    move_lead(session, captured.id, "lost", lost_reason="competitor", recheck_on=TODAY + timedelta(days=7))
    assert [d.recheck_on for d in session.scalars(select(Deal))] == [None]
    assert len(winback.find_due(session, LATER)) == 1
    assert winback.find_due(session, NOW + timedelta(days=400)) == []


def test_without_consent_only_the_rep_is_told(session: Session) -> None:
    lost_lead(session, consent=False)
    [recheck] = winback.find_due(session, LATER)
    assert recheck.outcome == "message not sent: no consent on record"
    [message] = outreach(session)
    assert (message.channel, message.last_error) == ("none", "not sent: no consent on record")
    assert message.failed_at is not None
    assert outreach_outbox.claim_due(session, "email", LATER) == []


def test_a_telegram_lead_is_written_to_on_telegram_in_its_language(session: Session) -> None:
    facts = HOT.model_copy(update={"name": "Lucía Gómez", "need": "un bot para la tienda"})
    lead = lost_lead(session, channel="telegram", sender="telegram-777", facts=facts, language="es")
    winback.find_due(session, LATER)
    [message] = outreach_outbox.claim_due(session, "telegram", LATER)
    assert (message.address, message.lead_id) == ("telegram-777", lead.id)
    assert message.text.startswith("Hola Lucía, soy el asistente de Embudo.")
    assert "un bot para la tienda" in message.text and "responde aquí" in message.text
    assert message.unsubscribe in message.text


def test_a_nurture_later_lead_comes_due_on_the_policys_date(session: Session) -> None:
    facts = HOT.model_copy(update={"bought_competitor": True, "consent": True})
    captured = capture_lead(session, facts, ConversationRef(channel="rest", sender_id="c"))
    assert captured.qualification is Qualification.NURTURE and captured.recheck_on is not None
    later = datetime.combine(captured.recheck_on, NOW.timetz())
    assert winback.find_due(session, later - timedelta(days=1)) == []
    [recheck] = winback.find_due(session, later)
    assert recheck.rep_id is None and "parked for later" in recheck.why
    assert [lead_id for lead_id, _ in winback.nurture_queue(session)] == [captured.id]


def test_a_send_is_an_activity_and_a_second_claim_cannot_send_it(session: Session) -> None:
    lead = lost_lead(session)
    winback.find_due(session, LATER)
    [message] = outreach_outbox.claim_due(session, "email", LATER)
    assert outreach_outbox.claim_due(session, "email", LATER) == []  # claimed: leased to the first sender
    assert outreach_outbox.mark_sending(session, message, LATER)
    assert not outreach_outbox.mark_sending(session, message, LATER)  # sending already: never twice
    outreach_outbox.mark_sent(session, message.outreach_id, LATER)
    logged = session.scalars(
        select(Activity).where(Activity.lead_id == lead.id, Activity.kind == ActivityKind.EMAIL)
    ).all()
    assert [a.body.split(":")[0] for a in logged] == ["Win-back message sent by e-mail to ana@acme.example"]


def test_unsubscribing_cancels_every_message_at_once_even_one_already_claimed(session: Session) -> None:
    lost_lead(session)
    winback.find_due(session, LATER)
    [message] = outreach_outbox.claim_due(session, "email", LATER)
    [row] = outreach(session)
    winback.unsubscribe(session, row.token, LATER)
    winback.unsubscribe(session, row.token, LATER)  # twice is fine
    assert not outreach_outbox.mark_sending(session, message, LATER)  # the claimed one is not sent either
    session.refresh(row)
    assert row.last_error == "cancelled: the contact unsubscribed" and row.delivered_at is None
    assert row.lead.contact.unsubscribed_at is not None
    notes = [a.body for a in session.scalars(select(Activity).where(Activity.kind == ActivityKind.NOTE))]
    assert any("unsubscribed" in note for note in notes)


def test_an_unsubscribed_contact_is_never_written_to_again(session: Session) -> None:
    lead = lost_lead(session)
    winback.find_due(session, LATER)
    winback.unsubscribe(session, outreach(session)[0].token, LATER)
    move_lead(session, lead.id, "lost", recheck_on=TODAY + timedelta(days=8))
    [recheck] = winback.find_due(session, LATER + timedelta(days=1))
    assert recheck.outcome == "message not sent: the contact unsubscribed"


def test_erasure_deletes_the_messages(session: Session) -> None:
    lead = lost_lead(session)
    winback.find_due(session, LATER)
    audit = erase_contact(session, lead.contact_id, "dpo", "sqlite:///:memory:")
    assert audit.counts["outreach"] == 1
    assert outreach(session) == [] and outreach_outbox.claim_due(session, "email", LATER) == []


def test_a_visitor_answering_qualifies_again_as_a_new_recycled_lead_and_its_revenue_is_recovered(
    session: Session,
) -> None:
    old = lost_lead(session, channel="telegram", sender="telegram-778")
    old_id = old.id
    move_lead(session, old_id, "lost", recheck_on=TODAY + timedelta(days=7))  # the lead lost too
    [recheck] = winback.find_due(session, LATER)  # deal and lead due the same day: one re-check
    assert recheck.why.startswith("lead lost, re-check due") and "deal #" in recheck.why
    [message] = outreach_outbox.claim_due(session, "telegram", LATER)
    outreach_outbox.mark_sending(session, message, LATER)
    outreach_outbox.mark_sent(session, message.outreach_id, LATER)
    again = capture_lead(
        session,
        HOT.model_copy(update={"consent": True}),
        ConversationRef(channel="telegram", sender_id="telegram-778"),
        source="telegram",
    )
    assert again.id != old_id and again.source == winback.RECYCLED and again.recycled_from_id == old_id
    assert again.conversation_id == "telegram-778"
    assert session.get(Lead, old_id).stage is Stage.LOST  # type: ignore[union-attr]
    corrected = capture_lead(
        session, HOT, ConversationRef(channel="telegram", sender_id="telegram-778"), source="telegram"
    )
    assert (corrected.id, corrected.source) == (again.id, winback.RECYCLED)  # stays recycled
    deal = open_deal(session, again.id, NewDeal(title="Bot again", value=Decimal("7000"), currency="EUR"))
    move_deal(session, deal.id, "won")
    board = kpis.dashboard(session)
    [recovered] = board.recovered
    quarter = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"
    assert (recovered.quarter, recovered.deals, recovered.value) == (quarter, 1, Decimal("7000.00"))
    [row] = [s for s in board.sources if s.source == winback.RECYCLED]
    assert (row.leads, row.won_value) == (1, Decimal("7000.00"))


def test_a_lead_never_closed_goes_on_as_recycled_when_the_visitor_answers(session: Session) -> None:
    old = lost_lead(session, channel="telegram", sender="telegram-779")  # only its deal was lost
    winback.find_due(session, LATER)
    [message] = outreach_outbox.claim_due(session, "telegram", LATER)
    outreach_outbox.mark_sending(session, message, LATER)
    outreach_outbox.mark_sent(session, message.outreach_id, LATER)
    again = capture_lead(session, HOT, ConversationRef(channel="telegram", sender_id="telegram-779"))
    assert (again.id, again.source, again.recycled_from_id) == (old.id, winback.RECYCLED, None)


def test_a_lost_deal_on_a_lead_with_another_open_deal_is_the_reps_to_raise(session: Session) -> None:
    lead = lost_lead(session)
    open_deal(session, lead.id, NewDeal(title="Support plan", value=Decimal("500"), currency="EUR"))
    [recheck] = winback.find_due(session, LATER)
    assert recheck.outcome == "message not sent: the lead is won or has an open deal"


def test_a_returning_visitor_without_a_win_back_message_is_not_recycled(session: Session) -> None:
    old = lost_lead(session)
    move_lead(session, old.id, "lost")
    winback.find_due(session, LATER)  # written, never delivered
    again = capture_lead(session, HOT, ConversationRef(channel="rest", sender_id="web-2"), source="ads")
    assert again.source == "ads" and again.recycled_from_id is None and again.id != old.id


# --- nurture ------------------------------------------------------------------------------------------


def mql(session: Session, *, language: str = "en", need: str = "a chatbot for our shop") -> Lead:
    facts = LeadFacts(need=need, name="Marta Vidal", email="marta@shop.example", consent=True)
    captured = capture_lead(session, facts, ConversationRef(channel="rest", sender_id="m"), language=language)
    lead = session.get(Lead, captured.id)
    assert lead is not None and lead.qualification is Qualification.MQL
    return lead


def test_an_mql_gets_the_schedules_messages_on_their_days_then_goes_stale(session: Session) -> None:
    lead = mql(session)
    start = lead.created_at
    assert winback.nurture_due(session, start + timedelta(days=2)) == []
    assert winback.nurture_due(session, start + timedelta(days=3)) == [lead.id]
    assert winback.nurture_due(session, start + timedelta(days=4)) == []  # step 1 waits for day 10
    assert winback.nurture_due(session, start + timedelta(days=10)) == [lead.id]
    assert winback.nurture_due(session, start + timedelta(days=30)) == [lead.id]
    assert winback.nurture_due(session, start + timedelta(days=90)) == []  # the schedule is over: stale
    steps = [(row.step, row.channel) for row in outreach(session)]
    assert steps == [(0, "email"), (1, "email"), (2, "email")]
    first = outreach(session)[0].text
    assert first.startswith(
        "Hello Marta, a short note from Embudo about a chatbot for our shop"
    )  # the bot track


def test_nurture_speaks_the_leads_language_and_fits_its_need(session: Session) -> None:
    lead = mql(session, language="es", need="precios de vuestro servicio")
    winback.nurture_due(session, lead.created_at + timedelta(days=3))
    [row] = outreach(session)
    assert row.text.startswith("Hola Marta, una nota breve de Embudo sobre precios de vuestro servicio:")
    assert row.subject == "Una nota sobre tu consulta" and "en nuestro chat (" in row.text


def test_nurture_stops_when_the_visitor_comes_back_or_unsubscribes(session: Session) -> None:
    lead = mql(session)
    winback.nurture_due(session, lead.created_at + timedelta(days=3))
    conversation = session.scalars(select(Conversation).where(Conversation.lead_id == lead.id)).one()
    session.add(
        Message(
            conversation_id=conversation.id,
            role=MessageRole.VISITOR,
            text="hi again",
            sent_at=lead.created_at + timedelta(days=4),
            rasa_event_id=1,
        )
    )
    session.flush()
    assert winback.nurture_due(session, lead.created_at + timedelta(days=10)) == []  # re-engaged
    other = mql(session, need="pricing")
    other_first = other.created_at + timedelta(days=3)
    winback.nurture_due(session, other_first)
    winback.unsubscribe(session, outreach(session)[-1].token, other_first)
    assert winback.nurture_due(session, other.created_at + timedelta(days=10)) == []


# --- two notifiers (PostgreSQL) ----------------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    not os.environ.get("EMBUDO_TEST_POSTGRES_URL"), reason="row locks: PostgreSQL only"
)


@postgres_only
def test_two_notifiers_take_a_due_re_check_and_a_message_once(db_url: str) -> None:
    with unit_of_work(db_url) as session:
        lost_lead(session)
    with unit_of_work(db_url) as first:
        assert len(winback.find_due(first, LATER)) == 1
        with unit_of_work(db_url) as second:
            second.execute(text("SET LOCAL lock_timeout = '5s'"))
            assert winback.find_due(second, LATER) == []  # A holds the rows: B skips them
    with unit_of_work(db_url) as session:
        assert winback.find_due(session, LATER) == []  # and once A committed, they are done
        assert len(outreach(session)) == 1
    with unit_of_work(db_url) as first:
        assert len(outreach_outbox.claim_due(first, "email", LATER)) == 1
        with unit_of_work(db_url) as second:
            second.execute(text("SET LOCAL lock_timeout = '5s'"))
            assert outreach_outbox.claim_due(second, "email", LATER) == []


def test_an_old_mql_is_stale_and_a_late_notifier_keeps_the_spacing(session: Session) -> None:
    lead = mql(session)
    assert winback.nurture_due(session, lead.created_at + timedelta(days=31)) == []  # never a first message
    other = mql(session, need="pricing")
    assert winback.nurture_due(session, other.created_at + timedelta(days=12)) == [other.id]  # late start
    assert winback.nurture_due(session, other.created_at + timedelta(days=13)) == []  # not two in a row
    assert winback.nurture_due(session, other.created_at + timedelta(days=19)) == [other.id]


def test_the_messages_file_is_checked_when_it_is_read(tmp_path: Path) -> None:
    good = yaml.safe_load(outreach_texts.DEFAULT_FILE.read_text(encoding="utf-8"))
    typo = {**good, "winback": {"en": {"subject": "Hi", "text": "Hello{nme} {unsubscribe}"}}}
    with pytest.raises(ValidationError, match="unknown placeholder 'nme'"):
        outreach_texts.OutreachConfig.model_validate(typo)
    no_link = {**good, "winback": {"en": {"subject": "Hi", "text": "Hello{name}"}}}
    with pytest.raises(ValidationError, match="unsubscribe"):
        outreach_texts.OutreachConfig.model_validate(no_link)
    backwards = {**good, "nurture": {**good["nurture"], "schedule_days": [10, 3]}}
    with pytest.raises(ValidationError, match="must grow"):
        outreach_texts.OutreachConfig.model_validate(backwards)
