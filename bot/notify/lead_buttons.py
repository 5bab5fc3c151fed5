"""The Accept / Pass / Take over buttons on a lead notification, shared by the notifier and the Telegram
gateway. Take over makes the rep the one answering the lead's live conversation (bot/live_chat.py)."""

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

PREFIX = "lead:"


def lead_buttons(lead_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Accept", callback_data=f"{PREFIX}accept:{lead_id}"),
                InlineKeyboardButton("↪️ Pass", callback_data=f"{PREFIX}pass:{lead_id}"),
            ],
            [InlineKeyboardButton("💬 Take over the chat", callback_data=f"{PREFIX}takeover:{lead_id}")],
        ]
    )


def parse(data: str) -> tuple[str, int] | None:
    """("accept" | "pass" | "takeover", lead id) from a button's callback data; None if not one of ours."""
    if not data.startswith(PREFIX):
        return None
    action, _, lead_id = data.removeprefix(PREFIX).partition(":")
    if action not in ("accept", "pass", "takeover") or not lead_id.isdigit():
        return None
    return action, int(lead_id)
