"""The texts of the messages to contacts (``crm_core/outreach/outreach.yml``, ``EMBUDO_OUTREACH_FILE``): the
win-back message and the MQL nurture schedule per language and need, checked when read, and filled in for one
lead with its name, need, where to reply and its unsubscribe link. Used by ``crm_core.outreach.winback``."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_core.config import DEFAULT_OUTREACH_FILE, get_settings
from crm_core.models import Lead

DEFAULT_FILE = DEFAULT_OUTREACH_FILE
TELEGRAM = "telegram"  # the channels a message goes on
EMAIL = "email"
NOT_SENT = "none"  # a re-check whose contact may not, or cannot, be written to
LANGUAGES = ("en", "es")


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1)


class NurtureTrack(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keywords: list[str]
    messages: list[str] = Field(min_length=1)


class Nurture(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schedule_days: list[Annotated[int, Field(ge=1, le=3650)]] = Field(min_length=1)
    subject: dict[str, str]
    en: list[NurtureTrack] = Field(min_length=1)
    es: list[NurtureTrack] = Field(min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> "Nurture":
        if self.schedule_days != sorted(set(self.schedule_days)):
            raise ValueError("nurture.schedule_days must grow: e.g. [3, 10, 30]")
        return self


PLACEHOLDERS = {"name": "", "need": "", "chat": "", "unsubscribe": ""}


class OutreachConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    winback: dict[str, Template]
    nurture: Nurture

    @model_validator(mode="after")
    def _placeholders(self) -> "OutreachConfig":
        """Every text fills with the known placeholders only (a typo fails at load, not at send)."""
        texts = [t.text for t in self.winback.values()] + [
            message for tracks in (self.nurture.en, self.nurture.es) for t in tracks for message in t.messages
        ]
        for text in texts:
            try:
                text.format(**PLACEHOLDERS)
            except (KeyError, IndexError, ValueError) as error:
                raise ValueError(f"unknown placeholder {error} in {text[:60]!r}…") from None
            if "{unsubscribe}" not in text:
                raise ValueError(f"every message needs its {{unsubscribe}} link: {text[:60]!r}…")
        if "en" not in self.winback:
            raise ValueError("winback needs at least the English (en) message")
        return self


@lru_cache
def _load(path: Path) -> OutreachConfig:
    with path.open(encoding="utf-8") as handle:
        return OutreachConfig.model_validate(yaml.safe_load(handle))


def current_outreach() -> OutreachConfig:
    return _load(get_settings().outreach_file)


_WORDS = {
    "en": {"need": "your enquiry", "here": " here", "chat": " in our chat ({url})", "topic": "Embudo"},
    "es": {"need": "tu consulta", "here": " aquí", "chat": " en nuestro chat ({url})", "topic": "Embudo"},
}


def unsubscribe_link(token: str) -> str:
    return f"{get_settings().public_web_url.rstrip('/')}/unsubscribe/{token}"


def chat_link() -> str:
    settings = get_settings()
    return settings.chat_url or f"{settings.public_web_url.rstrip('/')}/"


def fill(template: str, lead: Lead, channel: str, token: str) -> str:
    """A message's text for ``lead``: its name, need, where to reply and its unsubscribe link."""
    language = lead.language if lead.language in LANGUAGES else "en"
    words = _WORDS[language]
    name = lead.contact.name.split()[0] if lead.contact.name else ""
    need = (lead.need or words["need"]).strip().rstrip(".")
    if len(need) > 120:
        need = need[:119].rstrip() + "…"
    chat = words["here"] if channel == TELEGRAM else words["chat"].format(url=chat_link())
    return template.format(
        name=f" {name}" if name else "", need=need, chat=chat, unsubscribe=unsubscribe_link(token)
    )


def nurture_text(lead: Lead, step: int, channel: str, token: str) -> str | None:
    """The nurture schedule's message ``step`` for the lead's language and need; None past the schedule."""
    nurture = current_outreach().nurture
    if step >= len(nurture.schedule_days):
        return None
    tracks = nurture.es if lead.language == "es" else nurture.en
    need = (lead.need or "").lower()
    track = next(
        (t for t in tracks if not t.keywords or any(k.lower() in need for k in t.keywords)), tracks[-1]
    )
    return fill(track.messages[min(step, len(track.messages) - 1)], lead, channel, token)
