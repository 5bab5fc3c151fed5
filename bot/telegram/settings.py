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
    # Attempts for one outgoing message before it is given up and logged.
    send_attempts: int = 6
