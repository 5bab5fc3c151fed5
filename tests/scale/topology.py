"""The scale-out topology on one machine, for `make test-scale`: existing engines, our configuration.

PostgreSQL (started by scripts/with-postgres, its URL in ``EMBUDO_TEST_POSTGRES_URL``) holds two databases,
Rasa's tracker store and the CRM; Redis (Debian's redis-server) is Rasa's lock store and where both replicas
count the chat rates together (rasa_channels/guard.py); nginx (Debian's) balances two action servers and two
web processes, and fronts the two Rasa replicas' channels. Two notifiers and one transcript copier run beside
them. Rasa reads deploy/endpoints.scale.yml, filled from the environment as a deployment would fill it.
Everything lives in a temporary folder on free ports and is stopped at the end.
"""

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.harness import APP_PYTHON, RASA, ROOT, SERVING_THREADS, ensure_model, free_port, wait_until

REPLICAS = 2
# Messages one conversation may send in any 60 s, counted in Redis by both replicas together: above the
# form's 9 (a conversation sends no more), low enough for test_scale.py to go past it cheaply.
SENDER_PER_MINUTE = 12


@dataclass
class Topology:
    rasa_urls: list[str]  # each Rasa replica, straight
    balancer_rasa_url: str  # the replicas' channels through nginx
    balancer_web_url: str
    crm_url: str
    tracker_url: str  # the tracker store, as our own code (psycopg 3) reads it
    rasa_token: str
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in sorted(self.workdir.glob("*.log"))
        )


def _binary(name: str, *extra_dirs: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs]))
    if found is None:
        raise RuntimeError(
            f"{name} not found: `make test-scale` installs it (apt-get install redis-server nginx)"
        )
    return found


def _create_databases(server_url: str) -> tuple[str, str]:
    """Fresh `embudo_crm` and `rasa_tracker` databases on the test server; their URLs (psycopg 3)."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for name in ("embudo_crm", "rasa_tracker"):
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    base = make_url(server_url)
    return (
        base.set(database="embudo_crm").render_as_string(hide_password=False),
        base.set(database="rasa_tracker").render_as_string(hide_password=False),
    )


def _nginx_conf(
    work: Path, rasa: list[int], actions: list[int], web: list[int], ports: dict[str, int]
) -> str:
    def servers(used: list[int]) -> str:
        return " ".join(f"server 127.0.0.1:{port};" for port in used)

    conf = (ROOT / "deploy" / "nginx.conf.template").read_text()
    for key, value in {
        "@WORK@": str(work),
        "@USER@": "user root;" if os.getuid() == 0 else "",  # workers keep access to the temporary folder
        "@HOST@": "127.0.0.1",
        "@RASA_SERVERS@": servers(rasa),
        "@ACTION_SERVERS@": servers(actions),
        "@WEB_SERVERS@": servers(web),
        "@RASA_PORT@": str(ports["rasa"]),
        "@ACTIONS_PORT@": str(ports["actions"]),
        "@WEB_PORT@": str(ports["web"]),
    }.items():
        conf = conf.replace(key, value)
    return conf


@contextmanager
def running_topology(workdir: Path, telegram_base_url: str) -> Iterator[Topology]:
    """Start the whole topology; the notifiers send Telegram cards to ``telegram_base_url`` (a fake)."""
    from crm_core.db import upgrade_database

    server_url = os.environ.get("EMBUDO_TEST_POSTGRES_URL")
    if not server_url:
        raise RuntimeError("run under scripts/with-postgres (make test-scale does)")
    model = ensure_model()
    crm_url, tracker_url = _create_databases(server_url)
    upgrade_database(crm_url)
    tracker = make_url(tracker_url)
    rasa_tracker_url = tracker.set(drivername="postgresql").render_as_string(hide_password=False)  # psycopg2

    redis_port = free_port()
    rasa_ports = [free_port() for _ in range(REPLICAS)]
    action_ports = [free_port() for _ in range(REPLICAS)]
    web_ports = [free_port() for _ in range(REPLICAS)]
    front = {"rasa": free_port(), "actions": free_port(), "web": free_port()}
    (workdir / "nginx.conf").write_text(_nginx_conf(workdir, rasa_ports, action_ports, web_ports, front))

    token = secrets.token_hex(16)
    rasa_url = f"http://127.0.0.1:{rasa_ports[0]}"
    env = {
        **os.environ,
        "EMBUDO_DATABASE_URL": crm_url,
        "EMBUDO_EVENTS_URL": tracker_url,
        "EMBUDO_TRACKER_STORE_URL": rasa_tracker_url,
        "EMBUDO_REDIS_HOST": "127.0.0.1",
        "EMBUDO_REDIS_PORT": str(redis_port),
        "EMBUDO_ACTION_ENDPOINT": f"http://127.0.0.1:{front['actions']}/webhook",
        "EMBUDO_RASA_API_TOKEN": token,
        "EMBUDO_RASA_API_URL": rasa_url,
        "EMBUDO_RASA_PUBLIC_URL": f"http://127.0.0.1:{front['rasa']}",
        "EMBUDO_TELEGRAM_TOKEN": "123456:TEST-TOKEN",
        "EMBUDO_TELEGRAM_API_BASE_URL": telegram_base_url,
        "EMBUDO_NOTIFY_BACKOFF_SECONDS": "0.5",
        "EMBUDO_CHAT_ADDRESS_PER_MINUTE": "100000",  # every test visitor is 127.0.0.1
        "EMBUDO_CHAT_SENDER_PER_MINUTE": str(SENDER_PER_MINUTE),
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONPATH": str(ROOT),
        **SERVING_THREADS,
    }
    commands: dict[str, list[str]] = {
        "redis": [
            _binary("redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", "--appendonly", "no",
        ],
        "nginx": [
            _binary("nginx", "/usr/sbin"), "-p", str(workdir), "-c", str(workdir / "nginx.conf"),
            "-g", "daemon off;", "-e", str(workdir / "nginx-error.log"),
        ],
    }  # fmt: skip
    for index in range(REPLICAS):
        commands[f"rasa{index + 1}"] = [
            str(RASA), "run", "--model", str(model), "--endpoints", "deploy/endpoints.scale.yml",
            "--credentials", "credentials.yml", "--enable-api", "--interface", "127.0.0.1",
            "--port", str(rasa_ports[index]), "--cors", "*", "--auth-token", token,
        ]  # fmt: skip
        commands[f"actions{index + 1}"] = [
            str(APP_PYTHON),
            "-m",
            "actions.server",
            "--actions",
            "actions",
            "--port",
            str(action_ports[index]),
        ]
        commands[f"web{index + 1}"] = [
            str(APP_PYTHON), "-m", "uvicorn", "bot.web.app:app", "--host", "127.0.0.1",
            "--port", str(web_ports[index]), "--no-proxy-headers",
        ]  # fmt: skip
        commands[f"notifier{index + 1}"] = [str(APP_PYTHON), "-m", "bot.notify.worker"]
    for index in range(REPLICAS):  # two copiers, to show that running it twice copies each line once
        commands[f"transcripts{index + 1}"] = [
            str(APP_PYTHON), "-c", "from bot.cli import main; main()", "transcripts", "follow", "--interval", "0.5",
        ]  # fmt: skip
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / f"nginx-{name}").mkdir(exist_ok=True)

    processes: dict[str, subprocess.Popen[bytes]] = {}
    with ExitStack() as stop:
        stop.callback(_stop_all, processes)
        for name, command in commands.items():
            process_env = env
            if name.startswith("actions"):  # captures the CRM could not take yet: each server's own disk
                process_env = {**env, "EMBUDO_PENDING_CAPTURES_DIR": str(workdir / f"pending-{name}")}
            processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=process_env,
                stdout=(workdir / f"{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        try:
            for port in action_ports:
                wait_until(
                    lambda p=port: httpx.get(f"http://127.0.0.1:{p}/health").is_success,
                    "actions",
                    90,
                    processes,
                )
            for port in web_ports:
                wait_until(
                    lambda p=port: httpx.get(f"http://127.0.0.1:{p}/healthz").is_success, "web", 90, processes
                )
            for port in rasa_ports:
                wait_until(
                    lambda p=port: (
                        httpx.get(f"http://127.0.0.1:{p}/status", params={"token": token})
                        .json()
                        .get("model_id")
                        is not None
                    ),
                    f"Rasa on {port}",
                    300,
                    processes,
                )
        except (RuntimeError, TimeoutError) as error:
            partial = Topology([], "", "", crm_url, tracker_url, token, workdir, processes)
            raise RuntimeError(f"{error}\n{partial.log_tail()}") from error
        yield Topology(
            [f"http://127.0.0.1:{port}" for port in rasa_ports],
            f"http://127.0.0.1:{front['rasa']}",
            f"http://127.0.0.1:{front['web']}",
            crm_url,
            tracker_url,
            token,
            workdir,
            processes,
        )


def _stop_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
