"""The gateway refuses to start with settings that would run unsafely: webhook mode without its secret,
no token for its Rasa channel (bot/telegram/settings.py)."""

import os
import subprocess

import pytest

from bot.telegram.settings import TelegramSettings
from tests.harness import APP_PYTHON, ROOT

BASE = {"EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN", "EMBUDO_GATEWAY_TOKEN": "g" * 32}


def settings(**values: str) -> TelegramSettings:
    return TelegramSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_complete_settings_have_no_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    assert settings().problems() == []
    assert (
        settings(webhook_url="https://bot.example/telegram", webhook_secret="s3cret-Token_1").problems() == []
    )


def test_webhook_mode_without_a_valid_secret_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    [missing] = settings(webhook_url="https://bot.example/telegram").problems()
    assert "EMBUDO_TELEGRAM_WEBHOOK_SECRET is not set" in missing
    [invalid] = settings(webhook_url="https://bot.example/telegram", webhook_secret="has space").problems()
    assert "not 1-256 of" in invalid


def run_gateway(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("EMBUDO_TELEGRAM_", "EMBUDO_GATEWAY_"))}
    return subprocess.run(
        [str(APP_PYTHON), "-m", "bot.telegram.gateway"],
        cwd=ROOT / "tests",  # no .env is read from here
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_gateway_refuses_to_start_a_webhook_without_its_secret() -> None:
    finished = run_gateway(**BASE, EMBUDO_TELEGRAM_WEBHOOK_URL="https://bot.example/telegram")
    assert finished.returncode == 1
    assert "The Telegram gateway cannot start" in finished.stderr
    assert "EMBUDO_TELEGRAM_WEBHOOK_SECRET is not set" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_the_gateway_refuses_to_start_without_its_rasa_channel_token() -> None:
    finished = run_gateway(EMBUDO_TELEGRAM_TOKEN=BASE["EMBUDO_TELEGRAM_TOKEN"])
    assert finished.returncode == 1
    assert "EMBUDO_GATEWAY_TOKEN is not set" in finished.stderr
