"""The gateway's unsent messages on disk (bot/telegram/pending_replies.py): what a restart sends, what it never
sends twice."""

import logging
from pathlib import Path

import pytest

from bot.telegram.pending_replies import PendingReplies


def test_a_restart_sends_the_waiting_messages_in_the_order_they_were_said(tmp_path: Path) -> None:
    before = PendingReplies(tmp_path)
    first = before.add(7, "What is your budget?", None, None)
    before.sending(first)
    before.not_taken(first)  # the Bot API answered 502
    before.add(7, "And your role?", {"inline_keyboard": [[{"text": "Yes", "callback_data": "/affirm"}]]}, "X")
    sent = before.add(8, "Hello", None, None)
    before.done(sent)
    after = PendingReplies(tmp_path)
    left = after.left_over()
    assert [(r.chat_id, r.text) for r in left] == [(7, "What is your budget?"), (7, "And your role?")]
    assert left[1].markup == {"inline_keyboard": [[{"text": "Yes", "callback_data": "/affirm"}]]}


def test_a_message_whose_request_was_out_is_never_sent_again_and_the_admin_is_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = PendingReplies(tmp_path)
    maybe = before.add(7, "What is your budget?", None, None)
    before.sending(maybe)  # killed here: Telegram may have taken it
    with caplog.at_level(logging.ERROR):
        assert PendingReplies(tmp_path).left_over() == []
    assert "ADMIN ALERT" in caplog.text and "What is your budget?" in caplog.text
    assert list(tmp_path.glob("*.json")) == []
