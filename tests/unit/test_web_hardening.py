"""The web app's edges under a real uvicorn on the test's database (issue 15, items 3 and 5): bodies capped
before they are read, forged cookies ignored, the console's limits beside their fields, and sender ids of
any shape in console links."""

import re
import socket
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import func, select

from crm_core.chats.transcripts import ingest
from crm_core.db import unit_of_work
from crm_core.models import Activity, Deal
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef
from tests.console import ADMIN, _conversation, console_server, csrf_of, hot_facts, seed, signed_in

TOKEN = "hardening-token"
ODD_SENDER = "a/../b %2F c?x#y"  # every character a URL path treats specially


def test_a_declared_large_body_is_refused_before_the_server_reads_it(db_url: str, tmp_path: Path) -> None:
    """Only the headers are sent, announcing 200 MB: the answer comes without waiting for the body."""
    with console_server(db_url, tmp_path / "web.log") as url:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
            connection.sendall(
                b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 200000000\r\n\r\n"
            )
            answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_forged_cookies_with_any_bytes_are_ignored(db_url: str, tmp_path: Path) -> None:
    seed(db_url)
    with console_server(db_url, tmp_path / "web.log") as url:
        forged = "embudo_flash=\u00fc\u00e9.\u00e7\u00f1; embudo_login_csrf=\u00e9t\u00e9.x".encode("latin-1")
        with httpx.Client(base_url=url, headers={"Cookie": forged}, timeout=30) as browser:
            assert browser.get("/login").status_code == 200
            login = browser.post(
                "/login", data={"email": ADMIN, "password": "x", "csrf_token": "\u00e9t\u00e9.x"}
            )
            assert login.status_code == 403 and "expired" in login.text
        admin = signed_in(url, ADMIN)
        admin.cookies.set("embudo_flash", "bm90IHNpZ25lZA.forged-mac")
        assert admin.get("/console/inbox").status_code == 200


def test_sender_ids_with_slashes_dots_and_percent_signs_keep_working_links(
    db_url: str, tmp_path: Path
) -> None:
    seed(db_url)
    with unit_of_work(db_url) as session:
        lead = capture_lead(
            session,
            hot_facts("Odd Sender", "odd@example.com"),
            ConversationRef(channel="rest", sender_id=ODD_SENDER),
        )
        ingest(session, _conversation(ODD_SENDER, "hello from an odd id", 50))
    with console_server(db_url, tmp_path / "web.log", EMBUDO_API_TOKEN=TOKEN) as url:
        admin = signed_in(url, ADMIN)
        page = admin.get(f"/console/leads/{lead.id}")
        assert page.status_code == 200
        links = set(re.findall(r'href="(/console/(?:transcripts|live)/[^"]+)"', page.text))
        transcript = f"/console/transcripts/{quote(ODD_SENDER, safe='')}"
        assert f"{transcript}/export?format=txt" in links
        shown = admin.get(transcript)
        assert shown.status_code == 200 and "hello from an odd id" in shown.text
        links |= set(re.findall(r'href="(/console/(?:transcripts|live)/[^"]+)"', shown.text))
        assert any(link.startswith("/console/live/") for link in links)
        assert any("/export?format=json" in link for link in links)
        for link in links:
            answer = admin.get(link.replace("&amp;", "&"))
            assert answer.status_code == 200, link
            assert "hello from an odd id" in answer.text, link
        api = httpx.get(
            f"{url}/api/v1/conversations/{quote(ODD_SENDER, safe='')}/messages",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert api.status_code == 200 and api.json()[0]["text"] == "hello from an odd id"


def test_the_console_names_the_field_at_fault_and_bounds_every_number(db_url: str, tmp_path: Path) -> None:
    seeded = seed(db_url)
    too_big = str(2**63)
    with console_server(db_url, tmp_path / "web.log") as url:
        admin = signed_in(url, ADMIN)
        lead = f"/console/leads/{seeded.rosa_lead}"
        token = csrf_of(admin.get(lead).text)
        for body, says in (("n" * 10_001, "at most 10,000"), ("call\x00back", "control character")):
            note = admin.post(f"{lead}/activities", data={"csrf_token": token, "kind": "note", "body": body})
            assert note.status_code == 422 and says in note.text
            assert (
                'id="error-activity-body"' in note.text
                and 'aria-describedby="error-activity-body"' in note.text
            )
        deal = {
            "csrf_token": token,
            "title": "Pilot",
            "value": "100",
            "currency": "XYZ",
            "expected_close": "",
        }
        refused = admin.post(f"{lead}/deals", data=deal)
        assert refused.status_code == 422 and 'id="error-deal-currency"' in refused.text
        far = admin.post(f"{lead}/deals", data={**deal, "currency": "EUR", "expected_close": "9999-12-31"})
        assert far.status_code == 422 and 'id="error-deal-expected_close"' in far.text
        with unit_of_work(db_url) as session:
            assert session.scalar(select(func.count()).select_from(Activity)) == 0
            assert session.scalar(select(func.count()).select_from(Deal)) == 0
        for path in (
            f"/console/leads/{too_big}",
            "/console/leads/-1",
            f"/console/admin/reps/{too_big}",
            f"/console/admin/transcripts/{too_big}",
            f"/console/admin/transcripts?page={too_big}",
            f"/console/leads?page={too_big}",
            f"/console/leads?rep={too_big}",
            "/console/leads?page=%C2%B2",
            f"/console/board?rep={too_big}",
            "/console/admin/transcripts?until=9999-12-31",
            f"/console/live/{seeded.rosa_sender}/events?after={too_big}",
        ):
            assert admin.get(path).status_code == 422, path
        kpis = admin.get("/console/kpis?until=9999-12-31")
        assert kpis.status_code == 200 and "is not between 1900 and 2999" in kpis.text
        move = admin.post(
            "/console/board/move", data={"csrf_token": token, "lead_id": too_big, "stage": "won"}
        )
        assert move.status_code == 422
        purge = admin.post("/console/admin/privacy/purge", data={"csrf_token": token, "days": "9999999999"})
        assert purge.status_code == 422
