""" "A person is typing" in a visitor's Telegram chat while their rep writes in the console's live view: one
Bot API ``sendChatAction`` (Telegram shows "typing…" for about five seconds; console.js calls again while
the rep goes on). Sent from the web app's process with the gateway's settings (token, Bot API address);
nothing is recorded, and a failure only means the visitor does not see the notice."""

import httpx

from bot.telegram.settings import TelegramSettings


class TypingNotSent(Exception):
    """The notice did not reach Telegram."""


def show_typing(chat_id: int, settings: TelegramSettings | None = None, timeout: float = 5.0) -> None:
    settings = settings or TelegramSettings()
    if settings.token is None:
        raise TypingNotSent("EMBUDO_TELEGRAM_TOKEN is not set")
    url = f"{settings.api_base_url}{settings.token.get_secret_value()}/sendChatAction"
    try:
        response = httpx.post(url, json={"chat_id": chat_id, "action": "typing"}, timeout=timeout)
    except httpx.HTTPError as error:
        raise TypingNotSent(f"the Bot API is unreachable ({error.__class__.__name__})") from None
    if not response.is_success:
        raise TypingNotSent(f"the Bot API answered HTTP {response.status_code}")
