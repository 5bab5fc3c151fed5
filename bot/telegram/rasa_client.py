"""Talks to Rasa's REST channel on behalf of a Telegram chat."""

from typing import Any

import httpx


class RasaUnavailable(Exception):
    """Rasa did not answer; the visitor is told to try again, nothing else breaks."""


class RasaRelay:
    def __init__(self, rasa_url: str, client: httpx.AsyncClient | None = None) -> None:
        self._url = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
        self._client = client or httpx.AsyncClient(timeout=30)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post(
                self._url, json={"sender": sender, "message": text, "metadata": metadata}
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise RasaUnavailable(str(error)) from error
        replies: list[dict[str, Any]] = response.json()
        return replies

    async def close(self) -> None:
        await self._client.aclose()
