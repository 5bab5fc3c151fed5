"""Console users: logins for admins and reps, their sessions, the brake on failed logins, and who sees what.

Passwords are hashed with argon2id (argon2-cffi). A session is a random token in the browser's cookie;
only its SHA-256 is stored, with the session's CSRF token. A sign-in is counted against two brakes
(crm_core.people.login_brake) before its password is checked: the account from this address (the e-mail as
typed, so unknown accounts count too) and the address; past their free tries a braked sign-in is
refused without any check, and an attacker's address never holds up the real user on theirs. A rep sees
only the leads assigned to them: anything else is "not found", exactly as if it did not exist.
"""

import hashlib
import math
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_core.chats import ownership
from crm_core.chats.transcripts import TranscriptOut, transcript
from crm_core.errors import CrmError, InvalidInput, NotFound
from crm_core.models import (
    ConsoleSession,
    Lead,
    LoginAttempt,
    Meeting,
    MeetingStatus,
    Rep,
    User,
    UserRole,
    utcnow,
)
from crm_core.people import login_brake
from crm_core.people.login_brake import BrakeOn, BrakeRule
from crm_core.sales.leads import LeadQuery, get_lead, list_leads
from crm_core.schemas import LeadOut

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024  # hashing megabytes of "password" would be a cheap way to load the server
SESSION_LIFETIME = timedelta(hours=12)
ATTEMPTS_KEPT = timedelta(days=1)

_hasher = PasswordHasher()  # argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile)
# Each hash takes 64 MiB for a fraction of a second: a burst of logins waits here rather than
# taking the web process's memory with it.
_hashing = threading.BoundedSemaphore(4)


class UserOut(BaseModel):
    id: int
    email: str
    role: UserRole
    rep_id: int | None
    rep_name: str | None
    timezone: str  # the rep's, for showing times; UTC for an admin without a rep
    active: bool
    created_at: datetime
    last_login: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN

    @property
    def as_author(self) -> str:
        """How the history names this user's changes: "rep ana@example.com", "admin eva@example.com"."""
        return f"{self.role.value} {self.email}"


class TooManyAttempts(CrmError):
    """Logins are refused for a while after too many failures; nothing was checked or recorded."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class LoginLimits:
    """The two brakes on sign-ins. One account from one address: ``failures_per_account`` free tries a
    day (a success clears them). One address, every account: ``failures_per_address`` free tries per
    ``window``. Past its free tries, each brake makes every next try wait, ``first_delay`` doubling up to
    ``max_delay``. The real user on another address is never held up by either."""

    failures_per_account: int = 5
    failures_per_address: int = 30
    window: timedelta = timedelta(minutes=15)
    first_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(minutes=15)

    def account_rule(self) -> BrakeRule:
        return BrakeRule(self.failures_per_account, ATTEMPTS_KEPT, self.first_delay, self.max_delay)

    def address_rule(self) -> BrakeRule:
        return BrakeRule(self.failures_per_address, self.window, self.first_delay, self.max_delay)


@dataclass(frozen=True)
class SignedIn:
    """A live console session: who it is, and the token every form must echo back."""

    user: UserOut
    csrf_token: str
    expires_at: datetime


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        role=user.role,
        rep_id=user.rep_id,
        rep_name=user.rep.name if user.rep else None,
        timezone=user.rep.timezone if user.rep else "UTC",
        active=user.active,
        created_at=user.created_at,
        last_login=user.last_login,
    )


def login_key(email: str) -> str:
    """The form an e-mail address is stored and looked up in (normalised when valid, lower-case)."""
    typed = email.strip()
    try:
        return validate_email(typed, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return typed.lower()


def _checked_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise InvalidInput(f"'{email}' is not a valid e-mail address: {error}") from None


def _checked_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(f"A password needs at least {PASSWORD_MIN_LENGTH} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(f"A password may have at most {PASSWORD_MAX_LENGTH} characters.")
    if not password.strip():
        raise InvalidInput("A password cannot be only spaces.")
    return password


def _hash(password: str) -> str:
    with _hashing:
        return _hasher.hash(password)


@lru_cache
def _dummy_hash() -> str:
    """Unknown accounts are checked against this, so a wrong e-mail takes as long as a wrong password."""
    return _hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        with _hashing:
            return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


def create_user(
    session: Session, email: str, password: str, role: UserRole | str, rep_id: int | None = None
) -> UserOut:
    """Add a login. A rep's login belongs to one rep (and a rep has at most one login)."""
    try:
        role = UserRole(role)
    except ValueError:
        raise InvalidInput(f"Unknown role '{role}': use admin or rep.") from None
    email = _checked_email(email)
    _checked_password(password)
    if role is UserRole.REP and rep_id is None:
        raise InvalidInput("A rep's login needs the rep it belongs to (a rep id).")
    if rep_id is not None:
        if session.get(Rep, rep_id) is None:
            raise NotFound(f"No rep with id {rep_id}.")
        if session.scalar(select(User.id).where(User.rep_id == rep_id)) is not None:
            raise InvalidInput(f"Rep {rep_id} already has a login.")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise InvalidInput(f"There is already a login for {email}.")
    user = User(email=email, password_hash=_hash(password), role=role, rep_id=rep_id, active=True)
    session.add(user)
    session.flush()
    return user_out(user)


def get_user(session: Session, user_id: int) -> UserOut:
    return user_out(_user(session, user_id))


def find_user(session: Session, email: str) -> UserOut:
    user = session.scalar(select(User).where(User.email == login_key(email)))
    if user is None:
        raise NotFound(f"No login for {email.strip()}.")
    return user_out(user)


def list_users(session: Session) -> list[UserOut]:
    return [user_out(user) for user in session.scalars(select(User).order_by(User.id))]


def _too_many(what: str, on: BrakeOn) -> TooManyAttempts:
    seconds = on.retry_after_seconds
    minutes = max(1, math.ceil(seconds / 60))
    plural = "s" if minutes > 1 else ""
    message = f"Too many failed sign-ins {what}. Try again in {minutes} minute{plural}."
    return TooManyAttempts(message, seconds)


@dataclass(frozen=True)
class LoginTry:
    """A sign-in counted against the brakes and not yet checked: what ``password_matches`` compares with."""

    key: str  # the account as typed (normalised)
    address: str
    user_id: int | None
    password_hash: str  # the account's, or a dummy one for an unknown account
    limits: LoginLimits

    @property
    def account_brake(self) -> str:
        return f"login:{self.key}|{self.address}"

    @property
    def address_brake(self) -> str:
        return f"login-address:{self.address}"


def begin_login(
    session: Session, email: str, address: str, now: datetime | None = None, limits: LoginLimits | None = None
) -> LoginTry:
    """Count a sign-in against both brakes before any password is checked.

    Raises TooManyAttempts (counting nothing) while the account is braked from this address, or the
    address is braked for every account. Commit before checking the password, so simultaneous tries see
    each other's counts.
    """
    now = now or utcnow()
    limits = limits or LoginLimits()
    key = login_key(email)[:320]
    address = address[:64]
    found = session.execute(select(User.id, User.password_hash).where(User.email == key)).one_or_none()
    attempt = LoginTry(key, address, found[0] if found else None, found[1] if found else "", limits)
    try:
        login_brake.count_try(session, attempt.address_brake, limits.address_rule(), now)
    except BrakeOn as on:
        raise _too_many("from your address", on) from None
    try:
        login_brake.count_try(session, attempt.account_brake, limits.account_rule(), now)
    except BrakeOn as on:
        login_brake.refund_try(session, attempt.address_brake, limits.address_rule(), now)
        raise _too_many("for this account from your address", on) from None
    session.flush()
    return attempt


def password_matches(attempt: LoginTry, password: str) -> bool:
    """The slow part (argon2id: 64 MiB and tens of milliseconds), with no database: run it where waiting
    holds nobody else up. An over-long password is never a stored one; only its start is hashed."""
    return _verify(attempt.password_hash or _dummy_hash(), password[:PASSWORD_MAX_LENGTH])


def finish_login(
    session: Session, attempt: LoginTry, password: str, matches: bool, now: datetime | None = None
) -> UserOut | None:
    """Record the checked try; on the right password, the active user (their streak from this address is
    cleared and the try is taken back from the address's count), otherwise None."""
    now = now or utcnow()
    user = session.get(User, attempt.user_id) if attempt.user_id is not None else None
    succeeded = (
        user is not None
        and user.active
        and matches
        and user.password_hash == attempt.password_hash  # not changed while it was being checked
        and len(password) <= PASSWORD_MAX_LENGTH
    )
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - ATTEMPTS_KEPT))
    login_brake.forget_expired(session, now)
    session.add(LoginAttempt(email=attempt.key, ip=attempt.address, succeeded=succeeded, at=now))
    if not succeeded or user is None:
        session.flush()
        return None
    # the address's row first, as begin_login locks them (PostgreSQL: no deadlock between the two)
    login_brake.refund_try(session, attempt.address_brake, attempt.limits.address_rule(), now)
    login_brake.clear(session, attempt.account_brake)
    user.last_login = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hash(password)
    session.flush()
    return user_out(user)


def authenticate(
    session: Session,
    email: str,
    password: str,
    address: str,
    now: datetime | None = None,
    limits: LoginLimits | None = None,
) -> UserOut | None:
    """The active user with this e-mail and password, or None; every checked try is recorded.

    All three steps in one session (for the CLI and tests); the web console runs them apart, so the
    password check holds no transaction. Raises TooManyAttempts (and records nothing) while braked.
    """
    attempt = begin_login(session, email, address, now, limits)
    return finish_login(session, attempt, password, password_matches(attempt, password), now)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, user_id: int, now: datetime | None = None, lifetime: timedelta = SESSION_LIFETIME
) -> tuple[str, SignedIn]:
    """A new session for the user; returns the token for the cookie (stored only as a hash)."""
    now = now or utcnow()
    user = _user(session, user_id)
    if not user.active:
        raise InvalidInput(f"The login {user.email} is deactivated.")
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=_token_hash(token),
        user=user,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return token, SignedIn(user_out(user), row.csrf_token, row.expires_at)


def resume_session(session: Session, token: str, now: datetime | None = None) -> SignedIn | None:
    """The live session of this cookie token, or None when it is unknown, expired or its user deactivated."""
    now = now or utcnow()
    row = session.get(ConsoleSession, _token_hash(token))
    if row is None or row.expires_at <= now or not row.user.active:
        return None
    return SignedIn(user_out(row.user), row.csrf_token, row.expires_at)


def end_session(session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token)))


def end_sessions(session: Session, user_id: int, keep_token: str | None = None) -> None:
    """Sign the user out everywhere (except, optionally, the session of ``keep_token``)."""
    query = delete(ConsoleSession).where(ConsoleSession.user_id == user_id)
    if keep_token is not None:
        query = query.where(ConsoleSession.token_hash != _token_hash(keep_token))
    session.execute(query)


def change_password(
    session: Session, user_id: int, current: str, new: str, keep_token: str | None = None
) -> None:
    """The user changes their own password; their other sessions end."""
    user = _user(session, user_id)
    if not _verify(user.password_hash, current):
        raise InvalidInput("The current password is not right.")
    if current == new:
        raise InvalidInput("The new password is the same as the current one.")
    user.password_hash = _hash(_checked_password(new))
    end_sessions(session, user_id, keep_token)
    session.flush()


def set_password(session: Session, user_id: int, new: str) -> None:
    """An administrator resets a password; every session of that user ends."""
    user = _user(session, user_id)
    user.password_hash = _hash(_checked_password(new))
    end_sessions(session, user_id)
    session.flush()


def set_active(session: Session, user_id: int, active: bool) -> UserOut:
    """Deactivate (signing the user out everywhere) or reactivate a login."""
    user = _user(session, user_id)
    user.active = active
    if not active:
        end_sessions(session, user_id)
    session.flush()
    return user_out(user)


def may_see(user: UserOut, lead_rep_id: int | None) -> bool:
    """Admins see every lead; a rep only the leads assigned to them."""
    return user.is_admin or (user.rep_id is not None and lead_rep_id == user.rep_id)


def visible_lead(session: Session, user: UserOut, lead_id: int, now: datetime | None = None) -> LeadOut:
    """The lead, if the user may see it — its owner, an admin, or a rep holding one of its meetings still
    ahead (a stand-in: ``meeting_moves``), who must know whom they meet; otherwise NotFound, with the same
    words as a missing lead. Changing the lead stays its owner's (``visible_lead_row``)."""
    lead = get_lead(session, lead_id)
    if not (may_see(user, lead.assigned_rep_id) or _holds_a_meeting(session, user, lead_id, now or utcnow())):
        raise NotFound(f"No lead with id {lead_id}.")
    return lead


def _holds_a_meeting(session: Session, user: UserOut, lead_id: int, now: datetime) -> bool:
    if user.rep_id is None:
        return False
    held = select(Meeting.id).where(
        Meeting.lead_id == lead_id,
        Meeting.rep_id == user.rep_id,
        Meeting.status == MeetingStatus.BOOKED,
        Meeting.ends_at > now,
    )
    return session.scalar(held.limit(1)) is not None


def visible_lead_row(session: Session, user: UserOut, lead_id: int) -> Lead:
    """The lead's row, for changes, if the user may see it (NotFound otherwise)."""
    lead = session.get(Lead, lead_id)
    if lead is None or not may_see(user, lead.assigned_rep_id):
        raise NotFound(f"No lead with id {lead_id}.")
    return lead


def visible_transcript(session: Session, user: UserOut, sender_id: str) -> TranscriptOut:
    """A conversation's transcript, if the user may see its lead or is the rep answering it now (a rep
    never sees another conversation without a lead)."""
    found = transcript(session, sender_id)
    lead = session.get(Lead, found.lead_id) if found.lead_id is not None else None
    answering = user.rep_id is not None and ownership.current(session, sender_id).rep_id == user.rep_id
    if not (user.is_admin or answering or (lead is not None and may_see(user, lead.assigned_rep_id))):
        raise NotFound(f"No conversation with id {sender_id}.")
    return found


def visible_query(user: UserOut, query: LeadQuery | None = None) -> LeadQuery | None:
    """``query`` narrowed to what the user may see: a rep's leads are always their own (None: a rep login
    tied to no rep sees no leads)."""
    query = query or LeadQuery()
    if user.is_admin:
        return query
    if user.rep_id is None:
        return None
    return query.model_copy(update={"rep_id": user.rep_id, "unassigned": False})


def visible_leads(
    session: Session,
    user: UserOut,
    limit: int = 100,
    offset: int = 0,
    query: LeadQuery | None = None,
) -> list[LeadOut]:
    """A page of the leads the user may see (``leads.list_leads``); a rep's are always their own."""
    narrowed = visible_query(user, query)
    return list_leads(session, limit, offset, narrowed) if narrowed is not None else []
