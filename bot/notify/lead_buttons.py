"""The Accept / Pass buttons on a lead notification, shared by the notifier and the Telegram gateway."""

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

PREFIX = "lead:"


def lead_buttons(lead_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Accept", callback_data=f"{PREFIX}accept:{lead_id}"),
                InlineKeyboardButton("↪️ Pass", callback_data=f"{PREFIX}pass:{lead_id}"),
            ]
        ]
    )


def parse(data: str) -> tuple[str, int] | None:
    """("accept" | "pass", lead id) from a button's callback data, or None if it is not one of ours."""
    if not data.startswith(PREFIX):
        return None
    action, _, lead_id = data.removeprefix(PREFIX).partition(":")
    if action not in ("accept", "pass") or not lead_id.isdigit():
        return None
    return action, int(lead_id)
