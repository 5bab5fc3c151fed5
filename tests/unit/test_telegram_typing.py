"""A rep writing in the console's live view shows "typing…" in the visitor's Telegram chat: bot/live_chat.py's
``typing`` calls the Bot API's sendChatAction (here the local fake Bot API over HTTP) for a ``telegram-…``
conversation, for the owning rep only."""

from collections.abc import Iterator

import pytest

from bot import live_chat
from crm_core.chats.conversations import conversation_for
from crm_core.chats.ownership import Move, change
from crm_core.db import unit_of_work
from crm_core.errors import CrmError
from crm_core.models import Rep
from tests.fake_telegram import FakeTelegram

CHAT = 55501


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    telegram = FakeTelegram()
    running = telegram.serve()
    monkeypatch.setenv("EMBUDO_TELEGRAM_TOKEN", "123456:TEST-TOKEN")
    monkeypatch.setenv("EMBUDO_TELEGRAM_API_BASE_URL", telegram.base_url)
    yield telegram
    running.stop()


def owned_by_ana(db_url: str) -> tuple[int, int]:
    with unit_of_work(db_url) as session:
        ana = Rep(name="Ana", languages=["en"], capacity=5, active=True, open_leads=0, is_admin=False)
        ben = Rep(name="Ben", languages=["en"], capacity=5, active=True, open_leads=0, is_admin=False)
        session.add_all([ana, ben])
        conversation_for(session, "telegram", f"telegram-{CHAT}")
        session.flush()
        change(session, f"telegram-{CHAT}", Move.TAKE_OVER, rep_id=ana.id, by="console")
        return ana.id, ben.id


def test_the_owner_typing_shows_typing_in_the_visitors_telegram_chat(crm: str, fake: FakeTelegram) -> None:
    ana, ben = owned_by_ana(crm)
    rasa = live_chat.RasaApi("http://127.0.0.1:9")  # not used for a Telegram visitor
    live_chat.typing(rasa, f"telegram-{CHAT}", ana)
    assert fake.sent("sendChatAction", chat_id=CHAT) == [{"chat_id": CHAT, "action": "typing"}]
    with pytest.raises(CrmError):
        live_chat.typing(rasa, f"telegram-{CHAT}", ben)  # not the owner: refused, nothing sent
    assert len(fake.sent("sendChatAction", chat_id=CHAT)) == 1


def test_a_bot_api_that_is_down_is_said_not_hidden(crm: str, fake: FakeTelegram) -> None:
    ana, _ = owned_by_ana(crm)
    fake.go_down(60)
    with pytest.raises(CrmError, match="Telegram chat was not told"):
        live_chat.typing(live_chat.RasaApi("http://127.0.0.1:9"), f"telegram-{CHAT}", ana)
