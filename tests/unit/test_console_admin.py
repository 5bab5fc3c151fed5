"""The admin half of the console over HTTP (real uvicorn, the test's database): transcripts with filters,
the transcript view, exports, drop-off, erasure, policy versions, reps, and the KPI dashboard."""

import csv
import io
import json
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from crm_core.db import unit_of_work
from crm_core.models import Contact, Conversation, Erasure, Lead, PolicyVersion, Rep
from crm_core.qualification.policy_store import default_policy_text
from tests.console import ADMIN, HOSTILE, ROSA, Seeded, console_server, csrf_of, seed, signed_in
from tests.unit.test_transcripts import RasaEvents

EMBUDO = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "embudo"


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    return seed(db_url)


@pytest.fixture
def rasa_events(tmp_path: Path) -> RasaEvents:
    events = RasaEvents(tmp_path / "tracker.db")
    events.user("visitor-marta", "We sell bikes", "inform", 0.91)
    events.user("visitor-tomas", "Tomas's private words", "inform", 0.9)
    return events


@pytest.fixture
def web(db_url: str, seeded: Seeded, rasa_events: RasaEvents, tmp_path: Path) -> Iterator[str]:
    with console_server(db_url, tmp_path / "web.log", EMBUDO_EVENTS_URL=rasa_events.url) as url:
        yield url


@pytest.fixture
def admin(web: str) -> httpx.Client:
    return signed_in(web, ADMIN)


def conversation_id(db_url: str, sender: str) -> int:
    with unit_of_work(db_url) as session:
        found = session.scalar(select(Conversation.id).where(Conversation.sender_id == sender))
        assert found is not None
        return found


def listed(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', page)]


ADMIN_PAGES = (
    "/console/admin/transcripts",
    "/console/admin/transcripts/1",
    "/console/admin/transcripts/dropoff",
    "/console/admin/transcripts/export?format=csv",
    "/console/admin/privacy",
    "/console/admin/reps",
    "/console/admin/policy",
)


def test_admin_pages_are_for_admins_and_the_kpis_for_everyone(web: str, admin: httpx.Client) -> None:
    rep = signed_in(web, ROSA)
    anonymous = httpx.Client(base_url=web, timeout=30)
    for path in ADMIN_PAGES:
        assert admin.get(path).status_code == 200, path
        assert rep.get(path).status_code == 403, path
        assert anonymous.get(path).status_code == 303, path
    assert rep.get("/console/kpis").status_code == 200
    erase = rep.post("/console/admin/privacy/contacts/1/erase", data={"csrf_token": "x"})
    assert erase.status_code == 403


def test_filters_narrow_the_list_and_bad_filters_are_explained(
    web: str, admin: httpx.Client, seeded: Seeded, db_url: str
) -> None:
    marta = conversation_id(db_url, seeded.rosa_sender)
    tomas = conversation_id(db_url, seeded.ben_sender)
    everything = admin.get("/console/admin/transcripts")
    assert sorted(listed(everything.text)) == sorted([marta, tomas])
    assert listed(admin.get("/console/admin/transcripts", params={"q": "bikes"}).text) == [marta]
    by_rep = admin.get("/console/admin/transcripts", params={"rep": seeded.ben_rep_id})
    assert listed(by_rep.text) == [tomas]
    mql = admin.get("/console/admin/transcripts", params={"qualification": "mql"})
    assert listed(mql.text) == []
    in_future = admin.get("/console/admin/transcripts", params={"since": "2999-01-01"})
    assert listed(in_future.text) == []
    bad = admin.get("/console/admin/transcripts", params={"since": "yesterday", "slots": "budget big"})
    assert bad.status_code == 422
    assert "From must be a date like 2026-01-31, not &#39;yesterday&#39;." in bad.text
    assert "&#39;budget big&#39; is not a slot condition" in bad.text
    assert 'value="yesterday"' in bad.text  # what was typed stays in the form
    paged = admin.get("/console/admin/transcripts", params={"q": "bikes", "page": 2})
    assert listed(paged.text) == [] and "page 2 of 1" in paged.text


def test_the_transcript_view_shows_intents_slots_reasons_and_routing(
    web: str, admin: httpx.Client, seeded: Seeded, db_url: str
) -> None:
    page = admin.get(f"/console/admin/transcripts/{conversation_id(db_url, seeded.rosa_sender)}")
    assert page.status_code == 200
    assert "inform 0.91" in page.text
    assert "hot, budget fits and can decide: hand off to a rep now" in page.text
    assert re.search(r"assigned\s*·\s*Rosa Diaz", page.text)
    assert (
        "We sell bikes &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"
        in page.text
    )
    assert HOSTILE not in page.text
    assert admin.get("/console/admin/transcripts/999").status_code == 404


def test_export_one_some_or_every_matching_transcript(
    web: str, admin: httpx.Client, seeded: Seeded, db_url: str
) -> None:
    marta = conversation_id(db_url, seeded.rosa_sender)
    one = admin.get("/console/admin/transcripts/export", params={"ids": marta, "format": "csv"})
    assert one.status_code == 200 and one.headers["content-type"].startswith("text/csv")
    assert f'filename="transcript-{marta}.csv"' in one.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(one.text)))
    assert [row["text"] for row in rows] == [f"We sell bikes {HOSTILE}", "Thanks! What is your budget?"]
    matching = admin.get("/console/admin/transcripts/export", params={"q": "private", "format": "json"})
    assert [t["sender_id"] for t in matching.json()] == [seeded.ben_sender]
    assert matching.json()[0]["lead"]["rep"] == "Ben Okafor"
    both = admin.get("/console/admin/transcripts/export", params=[("ids", 1), ("ids", 2), ("format", "json")])
    assert len(both.json()) == 2
    assert admin.get("/console/admin/transcripts/export", params={"format": "xml"}).status_code == 422


def test_drop_off_page_lists_every_question(web: str, admin: httpx.Client) -> None:
    page = admin.get("/console/admin/transcripts/dropoff")
    assert page.status_code == 200
    for question in ("need", "budget", "authority", "timeline", "consent"):
        assert f"<td>{question}</td>" in page.text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"' in page.text


def test_erasing_a_contact_from_the_transcript_view(
    web: str, admin: httpx.Client, seeded: Seeded, db_url: str, rasa_events: RasaEvents
) -> None:
    view = admin.get(f"/console/admin/transcripts/{conversation_id(db_url, seeded.rosa_sender)}")
    contact_id = int(re.findall(r"/console/admin/privacy/contacts/(\d+)/erase", view.text)[0])
    forged = admin.post(f"/console/admin/privacy/contacts/{contact_id}/erase", data={"reason": "x"})
    assert forged.status_code == 403  # no CSRF token: refused, nothing erased
    erased = admin.post(
        f"/console/admin/privacy/contacts/{contact_id}/erase",
        data={"csrf_token": csrf_of(view.text), "reason": "ticket 42"},
    )
    assert erased.status_code == 303 and erased.headers["location"] == "/console/admin/privacy"
    log = admin.get("/console/admin/privacy")
    assert f"Contact #{contact_id} erased: 1 conversations, 2 messages" in log.text
    assert re.search(rf"contact #{contact_id}</td>\s*<td>{re.escape(ADMIN)}</td><td>ticket 42</td>", log.text)
    with unit_of_work(db_url) as session:
        assert session.get(Contact, contact_id) is None
        assert session.scalar(select(func.count()).select_from(Lead)) == 1
        [audit] = session.scalars(select(Erasure)).all()
        assert (audit.erased_by, audit.counts["rasa_events"]) == (ADMIN, 1)
    again = admin.post(
        f"/console/admin/privacy/contacts/{contact_id}/erase", data={"csrf_token": csrf_of(log.text)}
    )
    assert again.status_code == 404 and f"No contact with id {contact_id}." in again.text
    found = admin.get("/console/admin/privacy", params={"q": "tomas@"})
    assert "tomas@fjord.example" in found.text


def test_policy_changes_are_validated_versioned_and_shown(web: str, admin: httpx.Client, db_url: str) -> None:
    page = admin.get("/console/admin/policy")
    assert "accept within</dt><dd>15 minutes" in page.text
    bad_text = default_policy_text().replace("warm_max_days: 90", "warm_max_days: 5")
    refused = admin.post("/console/admin/policy", data={"csrf_token": csrf_of(page.text), "policy": bad_text})
    assert refused.status_code == 422
    assert "temperature: warm_max_days must be at least hot_max_days" in refused.text
    assert "warm_max_days: 5" in refused.text  # the admin's text is kept for fixing
    good_text = default_policy_text().replace('version: "2026-12-01.2"', 'version: "web-2"')
    saved = admin.post("/console/admin/policy", data={"csrf_token": csrf_of(page.text), "policy": good_text})
    assert saved.status_code == 303
    after = admin.get("/console/admin/policy")
    assert "Policy version web-2 saved" in after.text and "version web-2 (#1)" in after.text
    with unit_of_work(db_url) as session:
        [row] = session.scalars(select(PolicyVersion)).all()
        assert (row.version, row.saved_by) == ("web-2", ADMIN)


def test_reps_are_added_and_edited_with_clear_refusals(web: str, admin: httpx.Client, db_url: str) -> None:
    page = admin.get("/console/admin/reps")
    token = csrf_of(page.text)
    bad = admin.post("/console/admin/reps", data={"csrf_token": token, "name": "Eva", "languages": "e1"})
    assert bad.status_code == 422 and "&#39;e1&#39; is not a language code" in bad.text
    added = admin.post(
        "/console/admin/reps",
        data={"csrf_token": token, "name": "Eva", "languages": "es, en", "hours": "mon-fri=09:00-17:00"},
    )
    assert added.status_code == 303
    with unit_of_work(db_url) as session:
        eva = session.scalar(select(Rep).where(Rep.name == "Eva"))
        assert (
            eva is not None
            and eva.languages == ["es", "en"]
            and eva.working_hours["fri"] == ["09:00", "17:00"]
        )
        eva_id = eva.id
    form = {
        "csrf_token": token,
        "languages": "es",
        "territories": "es, mx",
        "capacity": "3",
        "timezone": "UTC",
    }
    refused = admin.post(f"/console/admin/reps/{eva_id}", data={**form, "capacity": "lots"})
    assert refused.status_code == 422 and "Capacity must be a whole number" in refused.text
    saved = admin.post(f"/console/admin/reps/{eva_id}", data=form)  # no "active": unticked
    assert saved.status_code == 303
    with unit_of_work(db_url) as session:
        eva = session.get(Rep, eva_id)
        assert eva is not None
        assert (eva.capacity, eva.territories, eva.active, eva.working_hours) == (3, ["ES", "MX"], False, {})
    refused = admin.post(f"/console/admin/reps/{eva_id}", data={**form, "away_until": "next week"})
    assert refused.status_code == 422 and "must be a date like" in refused.text
    away = {**form, "active": "1", "timezone": "America/Mexico_City", "away_until": "2026-12-24"}
    assert admin.post(f"/console/admin/reps/{eva_id}", data=away).status_code == 303
    with unit_of_work(db_url) as session:
        eva = session.get(Rep, eva_id)
        assert eva is not None and eva.away_until is not None
        assert eva.away_until.astimezone(UTC) == datetime(2026, 12, 24, 6, tzinfo=UTC)  # 00:00 in Mexico City
    assert 'value="2026-12-24"' in admin.get(f"/console/admin/reps/{eva_id}").text
    assert admin.post(f"/console/admin/reps/{eva_id}", data={**away, "away_until": ""}).status_code == 303
    with unit_of_work(db_url) as session:
        eva = session.get(Rep, eva_id)
        assert eva is not None and eva.away_until is None  # back
    dav = {"caldav_url": "https://dav.example.com/eva/work/", "caldav_user": "eva"}
    refused = admin.post(f"/console/admin/reps/{eva_id}", data={**away, "caldav_url": "dav.example.com"})
    assert refused.status_code == 422 and "not a calendar address" in refused.text
    calendar = {**away, "away_until": "", **dav, "caldav_password": "dav-secret-42"}
    assert admin.post(f"/console/admin/reps/{eva_id}", data=calendar).status_code == 303
    shown = admin.get(f"/console/admin/reps/{eva_id}").text
    assert 'value="https://dav.example.com/eva/work/"' in shown and "dav-secret-42" not in shown
    kept = {**away, "away_until": "", **dav}  # an empty password keeps the stored one
    assert admin.post(f"/console/admin/reps/{eva_id}", data=kept).status_code == 303
    with unit_of_work(db_url) as session:
        eva = session.get(Rep, eva_id)
        assert eva is not None and (eva.caldav_url, eva.caldav_password) == (
            dav["caldav_url"],
            "dav-secret-42",
        )
    assert admin.post(f"/console/admin/reps/{eva_id}", data={**away, "away_until": ""}).status_code == 303
    with unit_of_work(db_url) as session:
        eva = session.get(Rep, eva_id)
        assert eva is not None and (eva.caldav_url, eva.caldav_password) == (None, None)  # forgotten
    assert admin.post("/console/admin/reps/999", data=form).status_code == 404


def rows_of(page: str, table: str) -> list[tuple[str, int]]:
    """(first cell, second cell) of each row of the table with this id."""
    body = page.split(f'id="{table}"')[1].split("</table>")[0]
    return [(name, int(n)) for name, n in re.findall(r'<tr><td>([^<]+)</td><td class="num">(\d+)</td>', body)]


def test_the_dashboard_shows_the_numbers_the_cli_prints(web: str, admin: httpx.Client, db_url: str) -> None:
    env = {**os.environ, "EMBUDO_DATABASE_URL": db_url}
    printed = subprocess.run(
        [str(EMBUDO), "kpis", "--format", "json"], env=env, capture_output=True, text=True, timeout=60
    )
    numbers = json.loads(printed.stdout)
    page = admin.get("/console/kpis")
    assert page.status_code == 200
    assert rows_of(page.text, "funnel") == [(r["stage"], r["reached"]) for r in numbers["funnel"]["stages"]]
    assert rows_of(page.text, "sources") == [(r["source"], r["leads"]) for r in numbers["sources"]]
    assert any(row["reached"] for row in numbers["funnel"]["stages"])
    for rep in numbers["reps"]:
        assert f"<td>{rep['name']}</td>" in page.text
    assert page.text.count('class="chart" role="img"') == 4
    bad = admin.get("/console/kpis", params={"since": "soon"})
    assert "&#39;soon&#39; is not a date" in bad.text
