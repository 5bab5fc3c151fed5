"""The console's settings, its secret key, signed values, cookies with safe flags, and flash messages.

The secret key signs the login form's CSRF token and the flash cookie. It comes from
``EMBUDO_SECRET_KEY``; without it, one is generated on first use into ``var/secret_key`` (readable by
the owner only), so ``make run`` works out of the box and no key is ever written into the repository.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from fastapi import Request, Response
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SESSION_COOKIE = "embudo_session"
LOGIN_CSRF_COOKIE = "embudo_login_csrf"
FLASH_COOKIE = "embudo_flash"

FlashKind = Literal["ok", "error"]


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBUDO_", env_file=".env", extra="ignore")

    secret_key: str = ""  # empty: generated once into secret_key_file
    secret_key_file: Path = Path("var/secret_key")
    session_hours: float = 12
    cookie_secure: bool | None = None  # None: Secure when the request came over HTTPS
    # the login brakes (crm_core.people.users.LoginLimits): free tries of one account from one address (a day)
    # and of one address (a window), then a wait from the first delay doubling up to the longest
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=30, ge=1)
    login_window_minutes: float = Field(default=15, gt=0)
    login_delay_seconds: float = Field(default=60, gt=0)
    login_delay_max_minutes: float = Field(default=15, gt=0)
    # password checks run on their own threads, a few at once with a short queue (password_checks.py)
    login_check_threads: int = Field(default=2, ge=1, le=64)
    login_check_queue: int = Field(default=32, ge=0, le=10_000)


@lru_cache
def console_settings() -> ConsoleSettings:
    return ConsoleSettings()


def _key_from_file(path: Path) -> str:
    """The key in ``path``, created (mode 0600) by whichever process gets there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


@lru_cache
def secret_key() -> bytes:
    settings = console_settings()
    return (settings.secret_key or _key_from_file(settings.secret_key_file)).encode()


def _mac(purpose: str, value: str) -> str:
    """An HMAC bound to its purpose, so a value signed for one use is worthless for another."""
    digest = hmac.new(secret_key(), f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(purpose: str, value: str) -> str:
    return f"{value}.{_mac(purpose, value)}"


def unsign(purpose: str, signed: str) -> str | None:
    """The value of a signed string, or None when it was not signed by us for ``purpose`` (a forged
    cookie with any characters at all is just ignored)."""
    value, _, mac = signed.rpartition(".")
    expected = _mac(purpose, value).encode()
    return value if value and hmac.compare_digest(mac.encode("utf-8", "replace"), expected) else None


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    """Every console cookie: HttpOnly, SameSite=Lax, Secure over HTTPS (or as configured)."""
    secure = console_settings().cookie_secure
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" if secure is None else secure,
    )


class Flash(BaseModel):
    kind: FlashKind
    text: str


def flash(request: Request, response: Response, text: str, kind: FlashKind = "ok") -> None:
    """A message shown once, on the next page (after a redirect)."""
    payload = Flash(kind=kind, text=text[:500]).model_dump_json()
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    set_cookie(request, response, FLASH_COOKIE, sign("flash", encoded), max_age=60)


def read_flash(request: Request) -> Flash | None:
    signed = request.cookies.get(FLASH_COOKIE)
    encoded = unsign("flash", signed) if signed else None
    if encoded is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return Flash.model_validate(json.loads(raw))
    except ValueError:
        return None
