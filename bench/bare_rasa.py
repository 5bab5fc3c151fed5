"""The side-by-side baseline: the full stack and a bare `rasa init` bot measured in the same run, with the
same turns (bench/stack.py's CONVERSATION: one sender, then 10 concurrent conversations), both running at
once and taking turns, and the ratios issue 17's targets are written in.

Run with `make bench-baseline` (part of `make bench`). Prints figures; asserts nothing.
The bare bot's model is trained once by `rasa init --no-prompt` in a temporary folder and kept in
var/bare-rasa/ (delete that folder to retrain it); it is served with Rasa's defaults (REST channel only,
in-memory tracker and lock stores, no action server), as a fresh `rasa init` project would be.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import Bot, Measured, measure_bots
from crm_core.db import unit_of_work
from crm_core.people.reps import add_rep
from crm_core.schemas import NewRep
from tests.harness import RASA, ROOT, free_port, running_stack

CACHE = ROOT / "var" / "bare-rasa"
BARE_MODEL = CACHE / "bare-rasa-init.tar.gz"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def bare_model() -> Path:
    """The bare bot's trained model: from the cache, or trained now by `rasa init --no-prompt`."""
    if BARE_MODEL.exists():
        return BARE_MODEL
    print("training the bare `rasa init` bot (once; kept in var/bare-rasa/)", flush=True)
    with tempfile.TemporaryDirectory() as project:
        subprocess.run(
            [str(RASA), "init", "--no-prompt", "--init-dir", project],
            cwd=project,
            env=ENV,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        trained = sorted(Path(project, "models").glob("*.tar.gz"))
        if not trained:
            raise SystemExit("`rasa init --no-prompt` trained no model")
        CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copy(trained[-1], BARE_MODEL)
    return BARE_MODEL


@contextmanager
def bare_rasa(workdir: Path) -> Iterator[str]:
    """`rasa run` of the bare model on a free port with Rasa's default REST channel; yields its URL."""
    credentials = workdir / "credentials.yml"
    credentials.write_text("rest:\n")  # what `rasa init` writes, without its comments
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "bare-rasa.log").open("wb")
    command = [
        str(RASA), "run", "--model", str(bare_model()), "--credentials", str(credentials),
        "--interface", "127.0.0.1", "--port", str(port), "--enable-api",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=workdir, env=ENV, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the bare Rasa server exited with {process.returncode}: see {log.name}")
            try:
                if httpx.get(f"{url}/status").json().get("model_id"):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the bare Rasa server was not ready after 240 s")
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def rest_say(url: str) -> Any:
    http = httpx.Client(timeout=30)

    def say(sender: str, text: str) -> list[dict[str, Any]]:
        response = http.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text})
        response.raise_for_status()
        replies: list[dict[str, Any]] = response.json()
        return replies

    return say


def ratio(ours: float, bare: float) -> str:
    return f"{ours / bare:5.2f}×" if bare else "  n/a"


def main() -> None:
    load = os.getloadavg()
    print(
        f"Side by side: Embudo full stack vs bare `rasa init` — {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)"
    )
    bare_model()  # trained (or found) before anything is measured
    with (
        tempfile.TemporaryDirectory() as work,
        running_stack(Path(work) / "stack") as stack,
        bare_rasa(Path(work)) as url,
    ):
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Bench Rep", languages=["en"], capacity=100_000))
        # Three rounds of 10 concurrent conversations: the bots take turns (bench.stack.measure_bots).
        measured = measure_bots([Bot("Embudo: ", stack.say), Bot("bare:   ", rest_say(url), False)], rounds=3)
    show(measured["Embudo: "], measured["bare:   "])
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


def show(ours: tuple[Measured, Measured], bare: tuple[Measured, Measured]) -> None:
    (one, ten), (bare_one, bare_ten) = ours, bare
    print(f"{'ratio Embudo / bare':<46} {'Embudo':>10} {'bare':>10} {'ratio':>7}   target")
    rows = [
        ("one sender, p95 (ms)", one.p95_ms, bare_one.p95_ms, "≤ 1.3×"),
        ("10 concurrent, p95 (ms)", ten.p95_ms, bare_ten.p95_ms, "≤ 1.5×"),
        ("10 concurrent, throughput (msg/s)", ten.throughput, bare_ten.throughput, "≥ 0.85×"),
    ]
    for label, mine, theirs, target in rows:
        print(f"{label:<46} {mine:10.1f} {theirs:10.1f} {ratio(mine, theirs):>7}   {target}")


if __name__ == "__main__":
    main()
