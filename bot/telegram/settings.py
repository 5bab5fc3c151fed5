"""Gateway settings, from the environment (prefix ``EMBUDO_TELEGRAM_``) or ``.env``, and the check that
refuses to start with settings that would run unsafely."""

import re
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# What Telegram accepts as a webhook's secret_token.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBUDO_TELEGRAM_", env_file=".env", extra="ignore")

    token: SecretStr | None = None
    # Where the Bot API lives; tests point this at a local fake server.
    api_base_url: str = "https://api.telegram.org/bot"
    rasa_url: str = "http://localhost:5005"
    # The shared secret of the gateway's own Rasa channel (rasa_channels/gateway.py); `make run` makes one.
    gateway_token: SecretStr | None = Field(None, validation_alias=AliasChoices("EMBUDO_GATEWAY_TOKEN"))
    # Webhook mode (production): Telegram calls webhook_url, and proves it is Telegram with secret_token.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    # Polling mode (development): seconds the Bot API may hold a getUpdates call open.
    poll_timeout: float = 10.0
    # A message the Bot API did not take is retried until it is: first backoff, doubling up to the cap,
    # and an admin alert in the log once it has waited alert_after_seconds (bot/telegram/delivery.py).
    retry_first_seconds: float = 0.5
    retry_cap_seconds: float = 60.0
    alert_after_seconds: float = 300.0
    # How long to wait for the Bot API's answer: a slow answer is waited for, never a reason to send twice.
    read_timeout: float = 30.0
    # Messages to chats not sent yet, kept on disk: a restart sends them (bot/telegram/pending_replies.py).
    pending_dir: Path = Path("var/telegram-replies")

    def problems(self) -> list[str]:
        """What keeps the gateway from starting: each a sentence saying what to set."""
        found = []
        if self.token is None:
            found.append("EMBUDO_TELEGRAM_TOKEN is not set: get one from @BotFather")
        if self.gateway_token is None or not self.gateway_token.get_secret_value():
            found.append(
                "EMBUDO_GATEWAY_TOKEN is not set: the gateway's Rasa channel needs it (make run makes one; "
                "set the same value for the Rasa server and the gateway)"
            )
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if self.webhook_url and not WEBHOOK_SECRET.fullmatch(secret):
            found.append(
                "EMBUDO_TELEGRAM_WEBHOOK_URL is set but EMBUDO_TELEGRAM_WEBHOOK_SECRET is "
                + ("not 1-256 of A-Z a-z 0-9 _ -" if secret else "not set")
                + ": without it anyone could send the webhook forged updates"
            )
        return found

    def check(self) -> None:
        """Stops the process with every problem said, exit status 1, before anything starts."""
        if found := self.problems():
            raise SystemExit("The Telegram gateway cannot start:\n- " + "\n- ".join(found))
