"""Gateway settings, from the environment (prefix ``EMBUDO_TELEGRAM_``) or ``.env``."""

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBUDO_TELEGRAM_", env_file=".env", extra="ignore")

    token: SecretStr | None = None
    # Where the Bot API lives; tests point this at a local fake server.
    api_base_url: str = "https://api.telegram.org/bot"
    rasa_url: str = "http://localhost:5005"
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
