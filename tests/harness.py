"""Starts the real stack (as `make run` does) on free ports with temporary SQLite databases.

Used by the integration tests and by the benchmarks, so both measure the same thing.
"""

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from crm_core.schemas import LeadOut
    from tests.fake_telegram import FakeTelegram

# As the Procfile runs the Rasa server: the sentence encoder's OpenMP engine on one thread per message, so
# the second core serves Rasa's event loop and the action server (README "Performance").
SERVING_THREADS = {"OMP_NUM_THREADS": "1"}
ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "embudo.tar.gz"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
# The Telegram gateway's channel token, as `make run` exports one to every process it starts: the Rasa
# servers started here and any gateway a test starts with ``os.environ`` share it.
GATEWAY_TOKEN = os.environ.setdefault("EMBUDO_GATEWAY_TOKEN", secrets.token_hex(16))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_model() -> Path:
    """Train the model if data, domain or config changed since the last training (make decides)."""
    subprocess.run(["make", "-s", "model"], cwd=ROOT, check=True)
    return MODEL


@dataclass
class Stack:
    rasa_url: str
    action_url: str
    web_url: str
    crm_url: str
    events_url: str
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]]
    model_load_seconds: float
    rasa_token: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def say(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One visitor turn over the REST channel; returns the bot's replies."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = self.http.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body)
        response.raise_for_status()
        replies: list[dict[str, Any]] = response.json()
        return replies

    def tracker(self, sender: str) -> dict[str, Any]:
        response = self.http.get(
            f"{self.rasa_url}/conversations/{sender}/tracker", params={"token": self.rasa_token}
        )
        response.raise_for_status()
        tracker: dict[str, Any] = response.json()
        return tracker

    def lead(self, sender: str) -> "LeadOut":
        """The one lead captured from conversation ``sender``."""
        from crm_core.db import unit_of_work
        from crm_core.sales.leads import list_leads

        with unit_of_work(self.crm_url) as session:
            found = [lead for lead in list_leads(session) if lead.conversation_id == sender]
        assert len(found) == 1, f"expected one lead for {sender}, found {found}\n{self.log_tail()}"
        return found[0]

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(
                f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            )
        return "\n".join(parts)


def wait_until(ready: Any, what: str, timeout: float, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """Waits for ``ready()``; fails at once when one of ``processes`` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} while waiting for {what}")
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


@contextmanager
def running_stack(
    workdir: Path,
    crm_url: str | None = None,
    *,
    follow_transcripts: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Rasa server, action server and web app, on a fresh CRM and tracker store under ``workdir``;
    with ``follow_transcripts`` also the transcript copier; ``env`` adds settings for every process."""
    from crm_core.db import upgrade_database

    model = ensure_model()
    workdir.mkdir(parents=True, exist_ok=True)
    crm_url = crm_url or f"sqlite:///{workdir / 'crm.db'}"
    upgrade_database(crm_url)
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    action_url = f"http://127.0.0.1:{action_port}"
    web_url = f"http://127.0.0.1:{web_port}"
    env = {
        **os.environ,
        "EMBUDO_DATABASE_URL": crm_url,
        "EMBUDO_ACTION_ENDPOINT": f"http://127.0.0.1:{action_port}/webhook",
        "EMBUDO_TRACKER_DIALECT": "sqlite",
        "EMBUDO_TRACKER_DB": str(workdir / "tracker.db"),
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "EMBUDO_RASA_PUBLIC_URL": rasa_url,
        "EMBUDO_RASA_API_URL": rasa_url,
        "EMBUDO_EVENTS_URL": f"sqlite:///{workdir / 'tracker.db'}",
        "EMBUDO_RASA_API_TOKEN": secrets.token_hex(16),  # as `make run`: Rasa's HTTP API is never open
        # Every test client is 127.0.0.1: the per-address limit would count them all as one visitor
        # (tests/integration/test_chat_limits.py sets its own limits).
        "EMBUDO_CHAT_ADDRESS_PER_MINUTE": "100000",
        **SERVING_THREADS,
        **(env or {}),
    }
    # The same setting and default as the Procfile: which pages may open the chat.
    allowed_origins = (env.get("EMBUDO_WIDGET_ORIGINS") or env.get("EMBUDO_ALLOWED_ORIGINS") or "*").split()
    commands = {
        "actions": [str(APP_PYTHON), "-m", "actions.server", "--actions", "actions", "--port", str(action_port)],
        "rasa": [
            str(RASA), "run", "--model", str(model), "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml", "--enable-api", "--interface", "127.0.0.1",
            "--port", str(rasa_port), "--cors", *allowed_origins, "--auth-token", env["EMBUDO_RASA_API_TOKEN"],
        ],
        "web": [
            str(APP_PYTHON), "-m", "uvicorn", "bot.web.app:app",
            "--host", "127.0.0.1", "--port", str(web_port), "--no-proxy-headers",
        ],
    }  # fmt: skip
    if follow_transcripts:
        commands["transcripts"] = [
            str(APP_PYTHON), "-c", "from bot.cli import main; main()", "transcripts", "follow", "--interval", "0.2",
        ]  # fmt: skip
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            log = (workdir / f"{name}.log").open("wb")
            processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        started = time.monotonic()
        try:
            wait_until(lambda: httpx.get(f"{action_url}/health").is_success, "action server", 60, processes)
            wait_until(lambda: httpx.get(f"{web_url}/healthz").is_success, "web app", 60, processes)
            wait_until(
                lambda: (
                    httpx.get(f"{rasa_url}/status", params={"token": env["EMBUDO_RASA_API_TOKEN"]})
                    .json()
                    .get("model_id")
                    is not None
                ),
                "Rasa",
                240,
                processes,
            )
        except (RuntimeError, TimeoutError) as error:
            tails = "\n".join(
                f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                for p in sorted(workdir.glob("*.log"))
            )
            raise RuntimeError(f"{error}\n{tails}") from error
        events_url = f"sqlite:///{workdir / 'tracker.db'}"
        yield Stack(
            rasa_url,
            action_url,
            web_url,
            crm_url,
            events_url,
            workdir,
            processes,
            time.monotonic() - started,
            env["EMBUDO_RASA_API_TOKEN"],
        )
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def running_telegram_gateway(stack: Stack, workdir: Path) -> Iterator["FakeTelegram"]:
    """The Telegram gateway as a real process, polling a fake Bot API and relaying to ``stack``; its log is
    printed when it stops."""
    from tests.fake_telegram import FakeTelegram

    fake = FakeTelegram()
    running = fake.serve()
    env = {
        **os.environ,
        "EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
        "EMBUDO_TELEGRAM_API_BASE_URL": fake.base_url,
        "EMBUDO_TELEGRAM_RASA_URL": stack.rasa_url,
        "EMBUDO_TELEGRAM_POLL_TIMEOUT": "1",
        "EMBUDO_TELEGRAM_PENDING_DIR": str(workdir / "pending-replies"),
    }
    log_path = workdir / "gateway.log"
    with log_path.open("wb") as log:
        gateway = subprocess.Popen(
            [str(APP_PYTHON), "-m", "bot.telegram.gateway"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        fake.wait_for(lambda: fake.sent("setMyCommands"), 30, "the gateway to start")
        yield fake
    finally:
        gateway.terminate()
        gateway.wait(timeout=20)
        running.stop()
        print(log_path.read_text(errors="replace")[-3000:])
