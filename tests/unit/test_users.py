"""Console users in crm_core: hashed passwords, the brake on failed logins, sessions, and who sees which lead."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.chats.transcripts import RasaEvent, ingest
from crm_core.db import unit_of_work
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Brake, ConsoleSession, LoginAttempt, User, UserRole, utcnow
from crm_core.people import users
from crm_core.people.reps import add_rep
from crm_core.people.users import LoginLimits, TooManyAttempts
from crm_core.sales.leads import LeadQuery, capture_lead
from crm_core.schemas import ConversationRef, NewRep
from tests.console import hot_facts

PASSWORD = "a long enough secret"


def rep_login(session: Session, name: str, email: str) -> users.UserOut:
    rep = add_rep(session, NewRep(name=name, languages=["en"]))
    return users.create_user(session, email, PASSWORD, UserRole.REP, rep_id=rep.id)


def test_a_password_is_stored_only_as_an_argon2id_hash(session: Session) -> None:
    admin = users.create_user(session, "  Boss@Example.COM ", PASSWORD, "admin")
    stored = session.scalar(select(User.password_hash).where(User.id == admin.id))
    assert admin.email == "boss@example.com" and admin.is_admin
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("email", "password", "role", "message"),
    [
        ("not-an-address", PASSWORD, "admin", "is not a valid e-mail address"),
        ("a@example.com", "short", "admin", "at least 10 characters"),
        ("a@example.com", " " * 12, "admin", "only spaces"),
        ("a@example.com", PASSWORD, "owner", "Unknown role 'owner'"),
        ("a@example.com", PASSWORD, "rep", "needs the rep it belongs to"),
    ],
)
def test_bad_logins_are_refused_with_a_reason(
    session: Session, email: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        users.create_user(session, email, password, role)
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_one_login_per_e_mail_and_per_rep(session: Session) -> None:
    rosa = rep_login(session, "Rosa", "rosa@example.com")
    with pytest.raises(InvalidInput, match=r"already a login for rosa@example\.com"):
        users.create_user(session, "ROSA@example.com", PASSWORD, UserRole.ADMIN)
    with pytest.raises(InvalidInput, match=f"Rep {rosa.rep_id} already has a login"):
        users.create_user(session, "other@example.com", PASSWORD, UserRole.REP, rep_id=rosa.rep_id)
    with pytest.raises(NotFound, match="No rep with id 99"):
        users.create_user(session, "ghost@example.com", PASSWORD, UserRole.REP, rep_id=99)


def test_authenticate_checks_the_password_and_records_every_attempt(session: Session) -> None:
    rosa = rep_login(session, "Rosa", "rosa@example.com")
    assert users.authenticate(session, "rosa@example.com", "wrong password!", "10.0.0.1") is None
    assert users.authenticate(session, "nobody@example.com", PASSWORD, "10.0.0.1") is None
    signed = users.authenticate(session, " Rosa@Example.com", PASSWORD, "10.0.0.1")
    assert signed is not None and signed.id == rosa.id and signed.rep_name == "Rosa"
    assert signed.last_login is not None
    attempts = session.execute(
        select(LoginAttempt.email, LoginAttempt.succeeded).order_by(LoginAttempt.id)
    ).all()
    assert [tuple(a) for a in attempts] == [
        ("rosa@example.com", False),
        ("nobody@example.com", False),
        ("rosa@example.com", True),
    ]
    users.set_active(session, rosa.id, False)
    assert users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.1") is None


def test_the_longest_password_works_and_one_character_more_does_not(session: Session) -> None:
    longest = "p" * users.PASSWORD_MAX_LENGTH
    users.create_user(session, "long@example.com", longest, UserRole.ADMIN)
    with pytest.raises(InvalidInput, match="at most 1024 characters"):
        users.create_user(session, "longer@example.com", longest + "p", UserRole.ADMIN)
    assert users.authenticate(session, "long@example.com", longest, "10.0.0.1") is not None
    assert users.authenticate(session, "long@example.com", longest + "p", "10.0.0.1") is None


def brake_rows(session: Session) -> dict[str, int]:
    return {key: tries for key, tries in session.execute(select(Brake.key, Brake.tries))}


def test_an_account_braked_from_one_address_waits_longer_each_time_and_opens_from_another(
    session: Session,
) -> None:
    rep_login(session, "Rosa", "rosa@example.com")
    limits = LoginLimits(failures_per_account=3, failures_per_address=100, window=timedelta(minutes=15))
    start = utcnow()
    for _ in range(3):
        assert users.authenticate(session, "rosa@example.com", "wrong!", "10.0.0.66", start, limits) is None
    with pytest.raises(
        TooManyAttempts, match=r"for this account from your address\. Try again in 1 minute\."
    ) as on:
        users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.66", start, limits)
    assert on.value.retry_after_seconds == 60
    checked = session.scalar(select(func.count()).select_from(LoginAttempt))
    counted = brake_rows(session)
    with pytest.raises(TooManyAttempts):
        users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.66", start, limits)
    assert (
        session.scalar(select(func.count()).select_from(LoginAttempt)) == checked
    )  # refusals record nothing
    assert brake_rows(session) == counted  # nor count

    # the real Rosa, on her own address, is not held up at all
    assert users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.1", start, limits) is not None

    # from the guessing address, each try past the free ones doubles the wait: 1, 2, 4 minutes
    at = start
    for wait in (1, 2, 4):
        at += timedelta(minutes=wait)
        assert users.authenticate(session, "rosa@example.com", "wrong!", "10.0.0.66", at, limits) is None
        with pytest.raises(TooManyAttempts) as on:
            users.authenticate(session, "rosa@example.com", "wrong!", "10.0.0.66", at, limits)
        assert on.value.retry_after_seconds == wait * 2 * 60


def test_the_wait_stops_growing_at_its_cap_and_the_right_password_clears_the_streak(session: Session) -> None:
    rep_login(session, "Rosa", "rosa@example.com")
    limits = LoginLimits(
        failures_per_account=2,
        failures_per_address=100,
        first_delay=timedelta(seconds=10),
        max_delay=timedelta(seconds=50),
    )
    at = utcnow()
    for _ in range(2):
        assert users.authenticate(session, "rosa@example.com", "wrong!", "10.0.0.66", at, limits) is None
    waits = []
    for _ in range(6):
        with pytest.raises(TooManyAttempts) as on:
            users.authenticate(session, "rosa@example.com", "wrong!", "10.0.0.66", at, limits)
        waits.append(on.value.retry_after_seconds)
        at += timedelta(seconds=on.value.retry_after_seconds)
        assert users.authenticate(session, "rosa@example.com", "wrong!", "10.0.0.66", at, limits) is None
    assert waits == [10, 20, 40, 50, 50, 50]
    with pytest.raises(TooManyAttempts):
        users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.66", at, limits)
    at += timedelta(seconds=50)
    assert users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.66", at, limits) is not None
    assert "login:rosa@example.com|10.0.0.66" not in brake_rows(session)
    assert users.authenticate(session, "rosa@example.com", "wrong!", "10.0.0.66", at, limits) is None


def test_an_address_is_braked_for_every_account_and_its_successes_are_not_counted(session: Session) -> None:
    rep_login(session, "Rosa", "rosa@example.com")
    limits = LoginLimits(failures_per_account=3, failures_per_address=4, window=timedelta(minutes=15))
    now = utcnow()
    for email in ("a@example.com", "b@example.com"):
        assert users.authenticate(session, email, "wrong!", "10.0.0.1", now, limits) is None
    for _ in range(3):  # successes are taken back from the address's count
        assert users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.1", now, limits) is not None
    for email in ("c@example.com", "d@example.com"):
        assert users.authenticate(session, email, "wrong!", "10.0.0.1", now, limits) is None
    with pytest.raises(TooManyAttempts, match="from your address") as on:
        users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.1", now, limits)
    assert on.value.retry_after_seconds == 60
    assert users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.2", now, limits) is not None
    # the window ends: the address starts afresh
    later = now + timedelta(minutes=15)
    assert users.authenticate(session, "rosa@example.com", PASSWORD, "10.0.0.1", later, limits) is not None


def test_sixty_simultaneous_wrong_passwords_for_one_account_get_only_the_free_tries(db_url: str) -> None:
    """Each try is counted by one atomic statement before its password is checked: of 60 tries started
    together, exactly the 5 free ones go on to the check; the others are refused without one."""
    with unit_of_work(db_url) as session:
        rep_login(session, "Rosa", "rosa@example.com")
    limits = LoginLimits(failures_per_account=5, failures_per_address=1000)
    start = threading.Barrier(60)

    def one_try(_: int) -> str:
        start.wait()
        try:
            with unit_of_work(db_url) as session:
                users.begin_login(session, "rosa@example.com", "10.0.0.66", limits=limits)
        except TooManyAttempts:
            return "refused"
        return "to check"

    with ThreadPoolExecutor(max_workers=60) as pool:
        outcomes = list(pool.map(one_try, range(60)))
    assert outcomes.count("to check") == 5 and outcomes.count("refused") == 55
    with unit_of_work(db_url) as session:
        assert brake_rows(session) == {"login-address:10.0.0.66": 5, "login:rosa@example.com|10.0.0.66": 5}


def test_sessions_expire_end_on_logout_and_on_deactivation(session: Session) -> None:
    rosa = rep_login(session, "Rosa", "rosa@example.com")
    now = utcnow()
    token, signed = users.start_session(session, rosa.id, now, lifetime=timedelta(hours=1))
    stored = session.scalar(select(ConsoleSession.token_hash))
    assert stored != token and len(signed.csrf_token) >= 32
    resumed = users.resume_session(session, token, now + timedelta(minutes=59))
    assert resumed is not None and resumed.user.id == rosa.id and resumed.csrf_token == signed.csrf_token
    assert users.resume_session(session, token, now + timedelta(hours=1)) is None
    assert users.resume_session(session, "made-up-token", now) is None
    users.end_session(session, token)
    assert users.resume_session(session, token, now) is None
    other, _ = users.start_session(session, rosa.id)
    users.set_active(session, rosa.id, False)
    assert users.resume_session(session, other) is None
    with pytest.raises(InvalidInput, match="deactivated"):
        users.start_session(session, rosa.id)


def test_changing_a_password_needs_the_current_one_and_ends_the_other_sessions(session: Session) -> None:
    rosa = rep_login(session, "Rosa", "rosa@example.com")
    here, _ = users.start_session(session, rosa.id)
    elsewhere, _ = users.start_session(session, rosa.id)
    with pytest.raises(InvalidInput, match="current password is not right"):
        users.change_password(session, rosa.id, "not it at all", "a brand new secret", here)
    with pytest.raises(InvalidInput, match="at least 10"):
        users.change_password(session, rosa.id, PASSWORD, "short", here)
    users.change_password(session, rosa.id, PASSWORD, "a brand new secret", here)
    assert users.resume_session(session, here) is not None
    assert users.resume_session(session, elsewhere) is None
    assert users.authenticate(session, "rosa@example.com", "a brand new secret", "10.0.0.1") is not None
    users.set_password(session, rosa.id, "reset by the admin")
    assert users.resume_session(session, here) is None


def test_a_rep_sees_only_their_own_leads_and_transcripts_and_an_admin_sees_all(session: Session) -> None:
    rosa = rep_login(session, "Rosa", "rosa@example.com")
    rosas = capture_lead(
        session, hot_facts("Marta", "marta@example.com"), ConversationRef(channel="rest", sender_id="m")
    )
    ben = rep_login(session, "Ben", "ben@example.com")
    bens = capture_lead(
        session, hot_facts("Tomas", "tomas@example.com"), ConversationRef(channel="rest", sender_id="t")
    )
    ingest(session, [RasaEvent(1, "m", {"event": "user", "text": "hi", "input_channel": "rest"})])
    ingest(session, [RasaEvent(2, "t", {"event": "user", "text": "hej", "input_channel": "rest"})])
    ingest(session, [RasaEvent(3, "lost", {"event": "user", "text": "no lead", "input_channel": "rest"})])
    admin = users.create_user(session, "boss@example.com", PASSWORD, UserRole.ADMIN)

    assert users.visible_lead(session, rosa, rosas.id).id == rosas.id
    with pytest.raises(NotFound, match=f"No lead with id {bens.id}"):
        users.visible_lead(session, rosa, bens.id)
    with pytest.raises(NotFound):
        users.visible_lead_row(session, rosa, bens.id)
    with pytest.raises(NotFound, match="No conversation with id t"):
        users.visible_transcript(session, rosa, "t")
    with pytest.raises(NotFound, match="No conversation with id lost"):
        users.visible_transcript(session, ben, "lost")
    assert [lead.id for lead in users.visible_leads(session, rosa, query=LeadQuery(rep_id=ben.rep_id))] == [
        rosas.id
    ]
    assert {lead.id for lead in users.visible_leads(session, admin)} == {rosas.id, bens.id}
    assert users.visible_transcript(session, admin, "lost").messages[0].text == "no lead"
    assert users.visible_transcript(session, ben, "t").lead_id == bens.id
