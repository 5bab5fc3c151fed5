"""Settings read from the environment (prefix ``EMBUDO_``) or a ``.env`` file."""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POLICY_FILE = Path(__file__).with_name("qualification_policy.yml")
DEFAULT_PIPELINE_FILE = Path(__file__).with_name("pipeline.yml")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBUDO_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/embudo.db"
    policy_file: Path = DEFAULT_POLICY_FILE
    pipeline_file: Path = DEFAULT_PIPELINE_FILE
    default_language: str = "en"
    # Region for phone numbers written without a country code (e.g. "ES"); None: they must start with +.
    default_phone_region: str | None = None
    # Outgoing webhooks: receivers (comma-separated URLs) and the HMAC-SHA256 signing secret.
    webhook_urls: str = ""
    webhook_secret: str = ""
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: int = 30


@lru_cache
def get_settings() -> Settings:
    return Settings()
