"""The console over HTTP, served by a real uvicorn on the test's database (SQLite or PostgreSQL):
signing in and out, the brake on failed logins, CSRF, cookie flags, roles, and the rep's inbox."""

import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException
from sqlalchemy import func, select

from bot.web.console import require_admin
from crm_core.db import unit_of_work
from crm_core.models import Activity, Deal, Lead, Stage
from crm_core.people.users import find_user
from tests.console import (
    ADMIN,
    BEN,
    HOSTILE,
    PASSWORD,
    ROSA,
    Seeded,
    console_server,
    csrf_of,
    login,
    seed,
    signed_in,
)


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    return seed(db_url)


@pytest.fixture
def web(db_url: str, seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    with console_server(db_url, tmp_path / "web.log") as url:
        yield url


def anonymous(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=False, timeout=30)


def cookie_header(response: httpx.Response, name: str) -> str:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


def lead_row(db_url: str, lead_id: int) -> Lead:
    with unit_of_work(db_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


def test_sign_in_sets_a_safe_session_cookie_and_sign_out_ends_the_session(web: str, seeded: Seeded) -> None:
    client = anonymous(web)
    sent_away = client.get("/console/inbox?stage=sql")
    assert sent_away.status_code == 303
    assert sent_away.headers["location"] == "/login?next=/console/inbox%3Fstage%3Dsql"
    form = client.get("/login")
    assert "httponly" in cookie_header(form, "embudo_login_csrf").lower()
    assert form.headers["content-security-policy"].startswith("default-src 'self'")
    assert form.headers["x-frame-options"] == "DENY"

    signed = login(client, ROSA, next_url="/console/leads/1")
    assert signed.status_code == 303 and signed.headers["location"] == "/console/leads/1"
    session_cookie = cookie_header(signed, "embudo_session")
    flags = [part.strip().lower() for part in session_cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # plain HTTP here; over HTTPS (or EMBUDO_COOKIE_SECURE=true) it is Secure
    token = client.cookies["embudo_session"]

    inbox = client.get("/console/inbox")
    assert inbox.status_code == 200 and "Waiting for you to accept" in inbox.text
    assert inbox.headers["cache-control"] == "no-store"
    out = client.post("/logout", data={"csrf_token": csrf_of(inbox.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/login").text.count("You are signed out.") == 1
    replay = anonymous(web)
    replay.cookies.set("embudo_session", token)
    assert replay.get("/console/inbox").status_code == 303  # the old cookie opens nothing any more


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(web: str, seeded: Seeded) -> None:
    client = anonymous(web)
    wrong = login(client, ROSA, "not the password")
    unknown = login(client, "nobody@embudo.example")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong e-mail or password." in response.text
        assert "embudo_session" not in response.headers.get("set-cookie", "")
    assert 'value="rosa@embudo.example"' in wrong.text  # the e-mail is kept in the form
    assert client.get("/console/inbox").status_code == 303


def test_repeated_failures_lock_the_account_with_a_clear_message(web: str, seeded: Seeded) -> None:
    client = anonymous(web)
    for _ in range(5):
        assert login(client, ROSA, "guessing again").status_code == 401
    locked = login(client, ROSA)  # even the right password, from this address, for a while
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 60  # the first wait: a minute, then doubling
    assert (
        "Too many failed sign-ins for this account from your address. Try again in 1 minute." in locked.text
    )
    assert login(client, BEN).status_code == 303  # other accounts are not affected


def test_repeated_failures_from_one_address_are_stopped_too(
    db_url: str, seeded: Seeded, tmp_path: Path
) -> None:
    with console_server(db_url, tmp_path / "web.log", EMBUDO_LOGIN_FAILURES_PER_ADDRESS="3") as url:
        client = anonymous(url)
        for email in ("a@embudo.example", "b@embudo.example", "c@embudo.example"):
            assert login(client, email, "guessing").status_code == 401
        stopped = login(client, ADMIN)
        assert stopped.status_code == 429 and "from your address" in stopped.text


def test_the_login_form_needs_its_own_csrf_token(web: str, seeded: Seeded) -> None:
    client = anonymous(web)
    client.get("/login")
    for token in ("", "forged.token"):
        refused = client.post("/login", data={"email": ROSA, "password": PASSWORD, "csrf_token": token})
        assert refused.status_code == 403 and "sign-in form had expired" in refused.text
    other = anonymous(web)  # a token from another browser does not match this one's cookie
    stolen = csrf_of(other.get("/login").text)
    refused = client.post("/login", data={"email": ROSA, "password": PASSWORD, "csrf_token": stolen})
    assert refused.status_code == 403
    assert "embudo_session" not in client.cookies


def test_every_console_form_is_refused_without_the_sessions_csrf_token(
    web: str, seeded: Seeded, db_url: str
) -> None:
    rosa = signed_in(web, ROSA)
    ben = signed_in(web, BEN)
    bens_token = csrf_of(ben.get("/console/inbox").text)
    lead = f"/console/leads/{seeded.rosa_lead}"
    for token in (None, "", bens_token):
        data = {"stage": "contacted"} | ({"csrf_token": token} if token is not None else {})
        for action in ("/accept", "/move"):
            refused = rosa.post(lead + action, data=data)
            assert refused.status_code == 403 and "CSRF check failed" in refused.text
    assert rosa.post("/logout").status_code == 403
    row = lead_row(db_url, seeded.rosa_lead)
    assert row.accepted_at is None and row.stage is Stage.SQL  # nothing was changed
    assert rosa.get("/console/inbox").status_code == 200  # and Rosa is still signed in
    header_ok = rosa.post(lead + "/accept", headers={"X-CSRF-Token": csrf_of(rosa.get(lead).text)})
    assert header_ok.status_code == 303
    assert anonymous(web).post(lead + "/accept").headers["location"] == "/login"


def test_a_rep_gets_404_on_another_reps_lead_transcript_and_export(
    web: str, seeded: Seeded, db_url: str
) -> None:
    rosa = signed_in(web, ROSA)
    token = csrf_of(rosa.get("/console/inbox").text)
    bens = f"/console/leads/{seeded.ben_lead}"
    assert rosa.get(bens).status_code == 404
    not_a_number = rosa.get("/console/leads/abc")
    assert not_a_number.status_code == 422 and "lead_id" in not_a_number.text and "<html" in not_a_number.text
    assert rosa.get(f"/console/transcripts/{seeded.ben_sender}").status_code == 404
    for fmt in ("txt", "json"):
        export = rosa.get(f"/console/transcripts/{seeded.ben_sender}/export?format={fmt}")
        assert export.status_code == 404 and "private words" not in export.text
    forms = {
        "/accept": {},
        "/pass": {},
        "/move": {"stage": "proposal"},
        "/activities": {"kind": "note", "body": "sneaky"},
        "/deals": {"title": "Sneaky", "value": "100", "currency": "EUR"},
    }
    for action, data in forms.items():
        refused = rosa.post(bens + action, data={"csrf_token": token, **data})
        assert refused.status_code == 404, action
        assert f"No lead with id {seeded.ben_lead}." in refused.text
    inbox = rosa.get("/console/inbox").text
    assert "Tomas" not in inbox and f"/console/leads/{seeded.ben_lead}" not in inbox
    row = lead_row(db_url, seeded.ben_lead)
    assert (row.assigned_rep_id, row.accepted_at, row.stage) == (seeded.ben_rep_id, None, Stage.SQL)
    with unit_of_work(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Activity)) == 0
        assert session.scalar(select(func.count()).select_from(Deal)) == 0

    admin = signed_in(web, ADMIN)
    assert admin.get(bens).status_code == 200
    assert "private words" in admin.get(f"/console/transcripts/{seeded.ben_sender}/export?format=txt").text
    assert "Tomas Berg" in admin.get("/console/inbox").text  # the admin's latest leads


def test_only_admins_pass_require_admin(db_url: str, seeded: Seeded) -> None:
    with unit_of_work(db_url) as session:
        rosa, admin = find_user(session, ROSA), find_user(session, ADMIN)
    assert require_admin(admin) == admin
    with pytest.raises(HTTPException) as refused:
        require_admin(rosa)
    assert refused.value.status_code == 403


def test_a_rep_works_a_lead_from_the_inbox(web: str, seeded: Seeded, db_url: str) -> None:
    rosa = signed_in(web, ROSA)
    lead = f"/console/leads/{seeded.rosa_lead}"
    inbox = rosa.get("/console/inbox").text
    assert f'href="{lead}"' in inbox and "SQL" in inbox and "hot" in inbox
    assert " CET" in inbox and " UTC" not in inbox  # every time in Rosa's zone (Europe/Madrid)
    assert inbox.count('class="badge new"') == 1  # the hand-off she was told about, not yet opened
    page = rosa.get(lead)
    assert "This lead waits for you" in page.text and "decision maker" in page.text
    assert 'class="badge new"' not in rosa.get("/console/inbox").text  # opening the lead read it
    token = csrf_of(page.text)

    accepted = rosa.post(lead + "/accept", data={"csrf_token": token})
    assert accepted.status_code == 303 and accepted.headers["location"] == lead
    page = rosa.get(lead)
    assert "is yours: accepted" in page.text and "This lead waits for you" not in page.text
    again = rosa.post(lead + "/accept", data={"csrf_token": token})
    assert again.status_code == 409 and "already accepted" in again.text

    assert rosa.post(lead + "/move", data={"csrf_token": token, "stage": "proposal"}).status_code == 303
    assert "Moved from sql to proposal." in rosa.get(lead).text
    back = rosa.post(lead + "/move", data={"csrf_token": token, "stage": "contacted", "reason": "oops"})
    assert (
        back.status_code == 409
        and "Cannot move back from &#39;proposal&#39; to &#39;contacted&#39;" in back.text
    )
    assert 'value="oops"' in back.text  # what the rep typed is still there
    assert lead_row(db_url, seeded.rosa_lead).stage is Stage.PROPOSAL

    bad_due = rosa.post(
        lead + "/activities",
        data={"csrf_token": token, "kind": "call", "body": "Call Marta", "due": "tomorrow"},
    )
    assert (
        bad_due.status_code == 422
        and "Cannot read the due time" in bad_due.text
        and "Call Marta" in bad_due.text
    )
    empty = rosa.post(lead + "/activities", data={"csrf_token": token, "kind": "note", "body": "   "})
    assert empty.status_code == 422 and "needs some text" in empty.text
    call = {"csrf_token": token, "kind": "call", "body": "Call Marta", "due": "2026-12-01T10:00"}
    assert rosa.post(lead + "/activities", data=call).status_code == 303
    assert "Call Marta" in rosa.get(lead).text and "due 2026-12-01 10:00 CET" in rosa.get(lead).text
    page = rosa.get(lead).text  # who did each thing: the history, the activity and the lead's record
    assert f'<strong>proposal</strong> <span class="meta">by rep {ROSA}</span>' in page
    assert f"by rep {ROSA} · due 2026-12-01 10:00 CET" in page
    record = page.split('id="record-title"')[1]
    assert f'task: Call Marta <span class="meta">by rep {ROSA}</span>' in record
    assert f'accepted: accepted by the rep <span class="meta">by rep {ROSA}</span>' in record
    with unit_of_work(db_url) as session:
        [due_at] = session.scalars(select(Activity.due_at)).all()
        assert due_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # typed in Rosa's zone (Europe/Madrid)

    no_amount = rosa.post(
        lead + "/deals", data={"csrf_token": token, "title": "Shop bot", "value": "lots", "currency": "EUR"}
    )
    assert no_amount.status_code == 422 and "is not an amount" in no_amount.text
    negative = rosa.post(
        lead + "/deals", data={"csrf_token": token, "title": "Shop bot", "value": "-5", "currency": "EUR"}
    )
    assert negative.status_code == 422 and "greater than 0" in negative.text
    deal = {
        "csrf_token": token,
        "title": "Shop bot",
        "value": "18,000",
        "currency": "eur",
        "expected_close": "2026-12-20",
    }
    assert rosa.post(lead + "/deals", data=deal).status_code == 303
    page = rosa.get(lead).text
    assert "Deal &#39;Shop bot&#39; opened: 18,000.00 EUR." in page and "2026-12-20" in page
    with unit_of_work(db_url) as session:
        [opened] = session.scalars(select(Deal)).all()
        assert (opened.value, opened.currency, opened.stage) == (18000, "EUR", Stage.PROPOSAL)
        deal_id = opened.id
    assert (
        rosa.post(f"{lead}/deals/{deal_id}/move", data={"csrf_token": token, "stage": "won"}).status_code
        == 303
    )
    assert f"Deal {deal_id} moved to won." in rosa.get(lead).text


def test_passing_a_lead_hands_it_on_and_it_leaves_the_reps_inbox(
    web: str, seeded: Seeded, db_url: str
) -> None:
    rosa = signed_in(web, ROSA)
    lead = f"/console/leads/{seeded.rosa_lead}"
    passed = rosa.post(lead + "/pass", data={"csrf_token": csrf_of(rosa.get(lead).text)})
    assert passed.status_code == 303 and passed.headers["location"] == "/console/inbox"
    inbox = rosa.get("/console/inbox").text
    assert f"Lead {seeded.rosa_lead} was passed on." in inbox
    assert f'Lead #{seeded.rosa_lead} <span class="meta">(no longer yours)</span>' in inbox
    assert f'href="/console/leads/{seeded.rosa_lead}"' not in inbox
    assert rosa.get(lead).status_code == 404
    assert lead_row(db_url, seeded.rosa_lead).assigned_rep_id == seeded.ben_rep_id
    ben = signed_in(web, BEN)
    assert "This lead waits for you" in ben.get(lead).text


def test_visitor_text_is_shown_as_text_never_as_markup(web: str, seeded: Seeded) -> None:
    rosa = signed_in(web, ROSA)
    escaped = "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"
    for page in (
        rosa.get(f"/console/leads/{seeded.rosa_lead}").text,
        rosa.get(f"/console/transcripts/{seeded.rosa_sender}").text,
        rosa.get("/console/inbox").text,
    ):
        assert escaped in page and HOSTILE not in page and "<b>bold" not in page
    exported = rosa.get(f"/console/transcripts/{seeded.rosa_sender}/export?format=json")
    assert exported.headers["content-disposition"] == 'attachment; filename="transcript-visitor-marta.json"'
    assert exported.json()["messages"][0]["text"] == f"We sell bikes {HOSTILE}"


def test_after_sign_in_only_local_pages_are_followed(web: str, seeded: Seeded) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = login(anonymous(web), ROSA, next_url=target)
        assert response.status_code == 303 and response.headers["location"] == "/console"


def test_a_rep_changes_their_password_and_their_other_sessions_end(web: str, seeded: Seeded) -> None:
    here, elsewhere = signed_in(web, ROSA), signed_in(web, ROSA)
    token = csrf_of(here.get("/console/account").text)
    form = {
        "csrf_token": token,
        "current": "not my password",
        "new": "a new long secret",
        "repeat": "a new long secret",
    }
    wrong = here.post("/console/account/password", data=form)
    assert wrong.status_code == 422 and "current password is not right" in wrong.text
    differ = here.post("/console/account/password", data=form | {"current": PASSWORD, "repeat": "typo"})
    assert differ.status_code == 422 and "differ" in differ.text
    assert here.post("/console/account/password", data=form | {"current": PASSWORD}).status_code == 303
    assert here.get("/console/inbox").status_code == 200
    assert elsewhere.get("/console/inbox").status_code == 303
    assert login(anonymous(web), ROSA, "a new long secret").status_code == 303


def test_without_a_configured_key_one_is_generated_once_and_kept_private(
    db_url: str, seeded: Seeded, tmp_path: Path
) -> None:
    key_file = tmp_path / "var" / "secret_key"
    settings = {"EMBUDO_SECRET_KEY": "", "EMBUDO_SECRET_KEY_FILE": str(key_file)}
    with console_server(db_url, tmp_path / "web1.log", **settings) as url:
        client = anonymous(url)
        token = csrf_of(client.get("/login").text)
    key = key_file.read_text()
    assert len(key.strip()) >= 48 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with console_server(db_url, tmp_path / "web2.log", **settings) as url:
        client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
        client.cookies.set("embudo_login_csrf", token)  # signed by the first process, still valid
        signed = client.post("/login", data={"email": ROSA, "password": PASSWORD, "csrf_token": token})
        assert signed.status_code == 303
    assert key_file.read_text() == key


def test_an_admin_assigns_a_queued_lead_from_the_inbox_and_reassigns_from_the_lead_page(
    web: str, seeded: Seeded, db_url: str
) -> None:
    from tests.unit.helpers import make_lead

    with unit_of_work(db_url) as session:
        queued = make_lead(session, Stage.SQL).id  # nobody was eligible: it waits
    admin = signed_in(web, ADMIN)
    inbox = admin.get("/console/inbox").text
    assert f'action="/console/leads/{queued}/assign"' in inbox and "Ben Okafor (1/20)" in inbox
    token = csrf_of(inbox)
    form = {"csrf_token": token, "rep_id": str(seeded.ben_rep_id), "back": "inbox"}
    assigned = admin.post(f"/console/leads/{queued}/assign", data=form)
    assert assigned.status_code == 303 and assigned.headers["location"] == "/console/inbox"
    inbox = admin.get("/console/inbox").text
    assert f"Lead {queued} assigned to Ben Okafor." in inbox and "The queue is empty." in inbox
    assert lead_row(db_url, queued).assigned_rep_id == seeded.ben_rep_id

    page = f"/console/leads/{seeded.rosa_lead}"
    assert "Re-assign" in admin.get(page).text
    bad = admin.post(page + "/assign", data={"csrf_token": token, "rep_id": "nobody"})
    assert bad.status_code == 422 and "Choose the rep who gets the lead." in bad.text
    moved = admin.post(page + "/assign", data={"csrf_token": token, "rep_id": str(seeded.ben_rep_id)})
    assert moved.status_code == 303 and moved.headers["location"] == page
    assert lead_row(db_url, seeded.rosa_lead).assigned_rep_id == seeded.ben_rep_id

    ben = signed_in(web, BEN)  # a rep has no Assign control and may not post one
    assert "/assign" not in ben.get(page).text
    refused = ben.post(page + "/assign", data={"csrf_token": csrf_of(ben.get(page).text), "rep_id": "1"})
    assert refused.status_code == 403


def test_winning_a_lead_with_open_deals_is_refused_and_names_them(
    web: str, seeded: Seeded, db_url: str
) -> None:
    rosa = signed_in(web, ROSA)
    lead = f"/console/leads/{seeded.rosa_lead}"
    token = csrf_of(rosa.get(lead).text)
    deal = {"csrf_token": token, "title": "Shop bot", "value": "18000", "currency": "EUR"}
    assert rosa.post(lead + "/deals", data=deal).status_code == 303
    refused = rosa.post(lead + "/move", data={"csrf_token": token, "stage": "won"})
    assert refused.status_code == 409
    assert "still has open deals: #" in refused.text and "&#39;Shop bot&#39; (sql)" in refused.text
    assert lead_row(db_url, seeded.rosa_lead).stage is Stage.SQL


def test_the_inbox_links_to_the_live_view_while_the_visitor_waits_for_a_person(
    web: str, seeded: Seeded, db_url: str
) -> None:
    from crm_core.assignment import live_request
    from crm_core.chats import ownership
    from crm_core.chats.ownership import Move
    from crm_core.models import utcnow

    with unit_of_work(db_url) as session:  # the visitor asks for a person: Rosa, who has the lead, is told
        live_request.join_now(session, seeded.rosa_lead, seeded.rosa_sender, utcnow())
    rosa = signed_in(web, ROSA)
    join = f'href="/console/live/{seeded.rosa_sender}">Join the chat now</a>'
    assert join in rosa.get("/console/inbox").text
    with unit_of_work(db_url) as session:
        ownership.change(session, seeded.rosa_sender, Move.TAKE_OVER, rep_id=seeded.rosa_rep_id, by="test")
    assert "Join the chat now" not in rosa.get("/console/inbox").text  # someone answers: nothing to join
