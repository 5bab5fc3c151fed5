"""The takeover endpoints of the CRM REST API under a real uvicorn, on the test's database: every refusal
is a clear 4xx that changes nothing. (Taking over against the real Rasa server: tests/integration/test_takeover.py.)
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_core.chats import ownership
from crm_core.chats.ownership import Move
from crm_core.db import unit_of_work
from crm_core.models import Owner
from tests.console import Seeded, console_server, seed
from tests.harness import free_port

TOKEN = "test-token-takeover"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def seeded(db_url: str) -> Seeded:
    return seed(db_url)


@pytest.fixture
def api(db_url: str, seeded: Seeded, tmp_path: Path) -> Iterator[httpx.Client]:
    nothing_listens = f"http://127.0.0.1:{free_port()}"  # Rasa down: a takeover must change nothing
    env = {"EMBUDO_API_TOKEN": TOKEN, "EMBUDO_RASA_API_URL": nothing_listens}
    with (
        console_server(db_url, tmp_path / "web.log", **env) as url,
        httpx.Client(base_url=f"{url}/api/v1/conversations", headers=AUTH, timeout=30) as client,
    ):
        yield client


def owner(db_url: str, sender: str) -> tuple[Owner, int | None, int]:
    with unit_of_work(db_url) as session:
        state = ownership.current(session, sender)
        return state.owner, state.rep_id, len(ownership.history(session, sender))


def test_the_token_is_required(api: httpx.Client, seeded: Seeded) -> None:
    answer = api.post(
        f"/{seeded.rosa_sender}/takeover", json={"rep_id": 1}, headers={"Authorization": "Bearer no"}
    )
    assert answer.status_code == 401


def test_messages_list_every_line_with_its_author(api: httpx.Client, seeded: Seeded) -> None:
    lines = api.get(f"/{seeded.rosa_sender}/messages").json()
    assert [(m["author"], m["rep_id"]) for m in lines] == [("visitor", None), ("bot", None)]
    assert lines[0]["text"].startswith("We sell bikes") and lines[0]["sent_at"] == "2025-11-24T16:00:01Z"
    missing = api.get("/nobody/messages")
    assert missing.status_code == 404 and missing.json()["detail"] == "No conversation with id nobody."


def test_refusals_are_clear_and_change_nothing(api: httpx.Client, seeded: Seeded, db_url: str) -> None:
    rosa, ben, sender = seeded.rosa_rep_id, seeded.ben_rep_id, seeded.rosa_sender
    unknown = api.post("/nobody/takeover", json={"rep_id": rosa})
    assert unknown.status_code == 404 and unknown.json()["detail"] == "No conversation with id nobody."
    no_rep = api.post(f"/{sender}/takeover", json={"rep_id": 999})
    assert no_rep.status_code == 404 and no_rep.json()["detail"] == "No rep with id 999."
    bad_body = api.post(f"/{sender}/takeover", json={})
    assert bad_body.status_code == 422
    not_taken = api.post(f"/{sender}/messages", json={"rep_id": rosa, "text": "hello"})
    assert not_taken.status_code == 409
    assert (
        not_taken.json()["detail"]
        == f"Conversation {sender} is owned by the bot: take it over before writing."
    )
    empty = api.post(f"/{sender}/messages", json={"rep_id": rosa, "text": "   "})
    assert empty.status_code == 422 and empty.json()["detail"] == "The message is empty."
    huge = api.post(f"/{sender}/messages", json={"rep_id": rosa, "text": "x" * 5000})
    assert huge.status_code == 422 and "at most 4000" in huge.json()["detail"]
    nothing_to_give = api.post(f"/{sender}/handback")
    assert nothing_to_give.status_code == 409 and "nothing to hand back" in nothing_to_give.json()["detail"]
    assert owner(db_url, sender) == (Owner.BOT, None, 0)

    with unit_of_work(db_url) as session:  # Rosa owns it (as a takeover through Rasa would leave it)
        ownership.change(session, sender, Move.TAKE_OVER, rep_id=rosa, by="test")
    taken = api.post(f"/{sender}/takeover", json={"rep_id": ben})
    assert (
        taken.status_code == 409
        and taken.json()["detail"] == f"Rosa Diaz (rep {rosa}) already owns conversation {sender}."
    )
    not_owner = api.post(f"/{sender}/messages", json={"rep_id": ben, "text": "hi"})
    assert not_owner.status_code == 409
    assert not_owner.json()["detail"] == f"Rep {ben} does not own conversation {sender}: Rosa Diaz does."
    wrong_hand = api.post(f"/{sender}/handback", json={"rep_id": ben})
    assert wrong_hand.status_code == 409 and "does not own" in wrong_hand.json()["detail"]
    state = api.get(f"/{sender}").json()
    assert (state["owner"], state["rep_id"], state["rep_name"]) == ("rep", rosa, "Rosa Diaz")
    assert owner(db_url, sender) == (Owner.REP, rosa, 1)


def test_rasa_down_rolls_the_takeover_back(api: httpx.Client, seeded: Seeded, db_url: str) -> None:
    answer = api.post(f"/{seeded.rosa_sender}/takeover", json={"rep_id": seeded.rosa_rep_id})
    assert answer.status_code == 502
    assert (
        answer.json()["detail"].startswith("Rasa is unreachable")
        and "nothing changed" in answer.json()["detail"]
    )
    assert owner(db_url, seeded.rosa_sender) == (Owner.BOT, None, 0)
