"""The console's live conversation view under a real uvicorn, on the test's database: who may open it, the
owner shown, refusals shown and nothing changed, CSRF, and new lines pushed as server-sent events.
(Taking over through the real Rasa: tests/integration/test_takeover.py.)"""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_core.chats import ownership
from crm_core.chats.conversations import conversation_for
from crm_core.chats.ownership import Move
from crm_core.chats.transcripts import RasaEvent, ingest
from crm_core.db import unit_of_work
from crm_core.models import Owner
from tests.console import ADMIN, BEN, ROSA, Seeded, console_server, csrf_of, seed, signed_in
from tests.harness import free_port


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    return seed(db_url)


@pytest.fixture
def web(db_url: str, seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    rasa_down = f"http://127.0.0.1:{free_port()}"
    with console_server(db_url, tmp_path / "web.log", EMBUDO_RASA_API_URL=rasa_down) as url:
        yield url


def owner_of(db_url: str, sender: str) -> tuple[Owner, int | None]:
    with unit_of_work(db_url) as session:
        state = ownership.current(session, sender)
        return state.owner, state.rep_id


def test_only_reps_who_may_see_the_conversation_open_it(web: str, seeded: Seeded) -> None:
    rosa = signed_in(web, ROSA)
    page = rosa.get(f"/console/live/{seeded.rosa_sender}")
    assert page.status_code == 200
    assert "The bot is answering this conversation." in page.text and ">Take over</button>" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
    assert signed_in(web, BEN).get(f"/console/live/{seeded.rosa_sender}").status_code == 404
    assert signed_in(web, BEN).get(f"/console/live/{seeded.rosa_sender}/events").status_code == 404
    anonymous = httpx.Client(base_url=web, follow_redirects=False)
    assert anonymous.get(f"/console/live/{seeded.rosa_sender}").status_code in (303, 307)


def test_a_refused_takeover_is_shown_and_changes_nothing(web: str, seeded: Seeded, db_url: str) -> None:
    rosa = signed_in(web, ROSA)
    url = f"/console/live/{seeded.rosa_sender}"
    token = csrf_of(rosa.get(url).text)
    assert rosa.post(f"{url}/takeover").status_code == 403  # no CSRF token
    answer = rosa.post(f"{url}/takeover", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == url
    shown = rosa.get(url).text
    assert "Rasa is unreachable" in shown and "nothing changed" in shown
    assert owner_of(db_url, seeded.rosa_sender) == (Owner.BOT, None)


def test_the_owner_gets_the_send_form_and_empty_text_is_refused(
    web: str, seeded: Seeded, db_url: str
) -> None:
    with unit_of_work(db_url) as session:
        ownership.change(session, seeded.rosa_sender, Move.TAKE_OVER, rep_id=seeded.rosa_rep_id, by="test")
    rosa = signed_in(web, ROSA)
    url = f"/console/live/{seeded.rosa_sender}"
    page = rosa.get(url).text
    assert "You are answering this conversation; the bot is paused." in page
    assert 'name="text"' in page and "Hand back to the bot" in page
    rosa.post(f"{url}/messages", data={"csrf_token": csrf_of(page), "text": "   "})
    assert "The message is empty." in rosa.get(url).text


def test_new_lines_arrive_as_server_sent_events(web: str, seeded: Seeded, db_url: str) -> None:
    rosa = signed_in(web, ROSA)
    page = rosa.get(f"/console/live/{seeded.rosa_sender}").text
    found = re.search(r'data-live-events="([^"]+)"', page)
    assert found
    events_url = found.group(1).replace("&amp;", "&")
    received: list[dict[str, object]] = []
    with rosa.stream("GET", events_url, timeout=httpx.Timeout(30)) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind == "owner":
                assert json.loads(line.removeprefix("data: "))["owner"] == "bot"
                visitor = {
                    "event": "user",
                    "text": "Are you still there?",
                    "input_channel": "rest",
                    "timestamp": 1_764_000_100.0,
                }
                with unit_of_work(db_url) as session:  # as the transcript copier writes it
                    ingest(session, [RasaEvent(100, seeded.rosa_sender, visitor)])
            elif line.startswith("data: ") and kind == "message":
                received.append(json.loads(line.removeprefix("data: ")))
                break
    assert [(m["author"], m["text"]) for m in received] == [("visitor", "Are you still there?")]


def test_console_js_gets_the_outcome_as_json(web: str, seeded: Seeded, db_url: str) -> None:
    rosa = signed_in(web, ROSA)
    url = f"/console/live/{seeded.rosa_sender}"
    token = csrf_of(rosa.get(url).text)
    answer = rosa.post(
        f"{url}/messages", data={"csrf_token": token, "text": "hi"}, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 409
    assert (
        answer.json()["detail"]
        == f"Conversation {seeded.rosa_sender} is owned by the bot: take it over before writing."
    )


def test_a_typing_notice_needs_the_owner_and_says_when_rasa_is_unreachable(
    web: str, seeded: Seeded, db_url: str
) -> None:
    rosa = signed_in(web, ROSA)
    url = f"/console/live/{seeded.rosa_sender}"
    token = csrf_of(rosa.get(url).text)
    json_please = {"Accept": "application/json"}
    assert rosa.post(f"{url}/typing", headers=json_please).status_code == 403  # no CSRF token
    refused = rosa.post(f"{url}/typing", data={"csrf_token": token}, headers=json_please)
    assert refused.status_code == 409 and "take it over first" in refused.json()["detail"]
    with unit_of_work(db_url) as session:
        ownership.change(session, seeded.rosa_sender, Move.TAKE_OVER, rep_id=seeded.rosa_rep_id, by="test")
    unreachable = rosa.post(f"{url}/typing", data={"csrf_token": token}, headers=json_please)
    assert unreachable.status_code == 409 and "Rasa is unreachable" in unreachable.json()["detail"]


def test_visitors_waiting_for_a_person_are_listed_for_whoever_may_join(
    web: str, seeded: Seeded, db_url: str
) -> None:
    """A failed turn before there was a lead notifies nobody: the inbox lists the conversation for admins;
    a rep sees the waiting conversations of their own leads only."""
    with unit_of_work(db_url) as session:
        conversation_for(session, "socketio", "no-lead-yet")
        session.flush()
        ownership.ask_for_person(session, "no-lead-yet", by="bot: a turn failed")
        ownership.ask_for_person(session, seeded.rosa_sender)
    admin_inbox = signed_in(web, ADMIN).get("/console/inbox").text
    assert 'Visitors waiting for a person <span class="count">2</span>' in admin_inbox
    assert 'href="/console/live/no-lead-yet"' in admin_inbox and "no lead yet" in admin_inbox
    rosa_inbox = signed_in(web, ROSA).get("/console/inbox").text
    assert f'href="/console/live/{seeded.rosa_sender}"' in rosa_inbox and "no-lead-yet" not in rosa_inbox
    assert "Visitors waiting for a person" not in signed_in(web, BEN).get("/console/inbox").text
