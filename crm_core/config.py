"""Settings read from the environment (prefix ``EMBUDO_``) or a ``.env`` file."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POLICY_FILE = Path(__file__).parent / "qualification" / "qualification_policy.yml"
DEFAULT_PIPELINE_FILE = Path(__file__).parent / "sales" / "pipeline.yml"
DEFAULT_RATES_FILE = Path(__file__).with_name("exchange_rates.yml")
DEFAULT_OUTREACH_FILE = Path(__file__).parent / "outreach" / "outreach.yml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBUDO_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/embudo.db"
    # How long a SQLite write waits for another writer's lock before it fails ("database is locked").
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # Lead captures the CRM database could not take yet (crm_core.sales.pending_captures); unset: a
    # `pending-captures` folder beside a SQLite database, else var/pending-captures.
    pending_captures_dir: Path | None = None
    # Where Rasa's conversation events are read from for transcripts: the SQL tracker store's database
    # (an SQL event broker's database has the same `events` table and works too).
    events_url: str = "sqlite:///var/rasa_tracker.db"
    policy_file: Path = DEFAULT_POLICY_FILE
    pipeline_file: Path = DEFAULT_PIPELINE_FILE
    # Exchange rates version 0 (``embudo rates import`` stores newer versions in the database).
    rates_file: Path = DEFAULT_RATES_FILE
    # Messages to contacts: the win-back message and the MQL nurture schedule (crm_core.outreach.winback).
    outreach_file: Path = DEFAULT_OUTREACH_FILE
    # Where the reader of an e-mail from us can write back: a page with the chat widget, or a Telegram
    # deep link (https://t.me/BOT?start=recycled); unset: the web app's demo page (public_web_url).
    chat_url: str | None = None
    default_language: str = "en"
    # Links in rep notifications point here.
    public_web_url: str = "http://localhost:8000"
    # Rep notifications are retried until delivered: first retry delay (doubling up to the cap), when the
    # admins are alerted about one still waiting, and how long a claimed notification is its sender's
    # (longer than a send can take: a row still sending after it is treated as maybe delivered).
    notify_backoff_seconds: float = 1.0
    notify_backoff_cap_seconds: float = 600.0
    notify_alert_after_seconds: float = 300.0
    notify_lease_seconds: float = 120.0
    # E-mail to reps (optional): no host, no e-mail.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "embudo@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # Region for phone numbers written without a country code (e.g. "ES"); None: they must start with +.
    default_phone_region: str | None = None
    # Outgoing webhooks: receivers (comma-separated URLs) and the HMAC-SHA256 signing secret.
    webhook_urls: str = ""
    webhook_secret: str = ""
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: int = 30
    # A visitor who asked for a person waits this long for a rep to take the chat over; then the bot
    # says nobody could join and asks how to call them back (crm_core.assignment.live_request).
    live_wait_minutes: float = Field(default=3.0, gt=0)
    # Meetings booked in the chat (crm_core.scheduling.meetings, crm_core.scheduling.slots): length, grid, how
    # far ahead at least and at most, how many slots an offer shows (at most per_day of them on one day).
    meeting_minutes: int = Field(default=30, ge=5, le=480)
    meeting_step_minutes: int = Field(default=30, ge=5, le=480)
    meeting_lead_minutes: int = Field(default=120, ge=0)
    meeting_horizon_days: int = Field(default=14, ge=1, le=90)
    meeting_slots_offered: int = Field(default=4, ge=3, le=5)
    meeting_slots_per_day: int = Field(default=2, ge=1)
    # A rep's own CalDAV calendar (bot/calendars/caldav_busy.py): how long a read may take before the
    # offer goes on without it, and how long its busy times (or its failure) are reused.
    caldav_timeout_seconds: int = Field(default=5, ge=1, le=60)
    caldav_cache_seconds: float = Field(default=90.0, ge=0, le=3600)
    # Conversations of never-qualified visitors are purged after this many idle days (`embudo privacy purge`).
    retention_days: int = 180
    # The learned win probability (crm_core.learning.win_training) is fitted only from at least this many
    # closed leads (won or lost), at least min_won of them won: fewer outcomes teach noise, not a signal.
    win_model_min_closed: int = Field(default=200, ge=20)
    win_model_min_won: int = Field(default=30, ge=10)


@lru_cache
def get_settings() -> Settings:
    return Settings()
