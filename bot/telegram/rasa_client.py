"""Talks to Rasa on behalf of a Telegram chat, through the gateway's own channel
(``rasa_channels/gateway.py``: ``/webhooks/telegram/webhook``, ``EMBUDO_GATEWAY_TOKEN`` as a bearer token),
the only way into a ``telegram-…`` conversation."""

from typing import Any

import httpx

# Statuses with which the channel refuses one message (too long, too fast, unreadable) and says, in the
# visitor's language, what to tell them: that text is the reply.
REFUSED = {400, 413, 429}


class RasaUnavailable(Exception):
    """Rasa did not answer; the visitor is told to try again, nothing else breaks."""


class RasaRelay:
    def __init__(self, rasa_url: str, token: str, client: httpx.AsyncClient | None = None) -> None:
        self._url = rasa_url.rstrip("/") + "/webhooks/telegram/webhook"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client = client or httpx.AsyncClient(timeout=30)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        body = {"sender": sender, "message": text, "metadata": metadata}
        try:
            response = await self._client.post(self._url, json=body, headers=self._headers)
            if response.status_code in REFUSED and _refusal_text(response):
                return [{"text": _refusal_text(response)}]
            response.raise_for_status()
            replies: list[dict[str, Any]] = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise RasaUnavailable(str(error)) from error
        return replies

    async def close(self) -> None:
        await self._client.aclose()


def _refusal_text(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) and message else None
