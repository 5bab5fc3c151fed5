"""Benchmarks of the full stack on SQLite: per-turn latency, training, model load and memory.

Run with `make bench`. Prints figures; asserts nothing (targets are in the README).
"""

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm_core.db import unit_of_work
from crm_core.people.reps import add_rep
from crm_core.schemas import NewRep
from tests.harness import RASA, ROOT, running_stack

CONVERSATION = [
    "hi",
    "we need a chatbot that qualifies leads on our website",
    "about 30k dollars",
    "I'm the head of sales and I decide",
    "within a month",
    "Initrode",
    "Pat Quinn",
    "pat{n}@initrode.example",
    "/affirm",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(label: str, seconds: list[float], errors: int = 0, wall: float | None = None) -> None:
    """One line of figures; with ``wall`` (the seconds the turns took in all) also the throughput."""
    ms = [s * 1000 for s in seconds]
    rate = f"  {len(ms) / wall:5.1f} msg/s" if wall else ""
    print(
        f"{label:<46} n={len(ms):>4}  p50={statistics.median(ms):7.1f} ms  "
        f"p95={percentile(ms, 0.95):7.1f} ms  max={max(ms):7.1f} ms  errors={errors}{rate}"
    )


# One visitor turn: (sender, text) → the bot's replies.
Say = Callable[[str, str], list[dict[str, Any]]]


@dataclass
class Measured:
    latencies: list[float]  # seconds per turn
    errors: int
    wall: float  # seconds from the first turn sent to the last reply

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies, 0.95) * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall


def one_conversation(
    say: Say, sender: str, n: int, *, reply_expected: bool = True
) -> tuple[list[float], int]:
    latencies, errors = [], 0
    for turn in CONVERSATION:
        started = time.perf_counter()
        try:
            if not say(sender, turn.format(n=n)) and reply_expected:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        latencies.append(time.perf_counter() - started)
    return latencies, errors


@dataclass
class Bot:
    label: str  # printed before each of its rows
    say: Say
    reply_expected: bool = True  # False: a turn without a reply is not an error (a bare bot may stay silent)


def combined(parts: list[Measured]) -> Measured:
    return Measured(
        [s for part in parts for s in part.latencies],
        sum(p.errors for p in parts),
        sum(p.wall for p in parts),
    )


def measure_bots(bots: list[Bot], rounds: int = 1) -> dict[str, tuple[Measured, Measured]]:
    """The two measurements every stack gets, for each bot: one sender (at least 200 turns), then 30
    conversations 10 at a time, in ``rounds`` rounds. With several bots (all running at once) they take
    turns: conversation by conversation for one sender, round by round for 10 concurrent, so whatever else
    this machine is doing weighs on all alike (measured one after the other, a busy minute for one bot and
    a quiet one for the other moved the one-sender ratio of bench/bare_rasa.py between 0.94x and 1.67x)."""
    sequential: dict[str, list[Measured]] = {bot.label: [] for bot in bots}
    n = 0
    while sum(len(m.latencies) for m in sequential[bots[0].label]) < 200:
        for bot in bots:
            started = time.perf_counter()
            latencies, errors = one_conversation(
                bot.say, f"bench-seq-{n}", n, reply_expected=bot.reply_expected
            )
            sequential[bot.label].append(Measured(latencies, errors, time.perf_counter() - started))
        n += 1
    concurrent: dict[str, list[Measured]] = {bot.label: [] for bot in bots}
    per_round = 30 // rounds
    for round_ in range(rounds):
        for bot in bots:
            part = ten_concurrent(
                bot.say, reply_expected=bot.reply_expected, conversations=per_round, first=per_round * round_
            )
            concurrent[bot.label].append(part)
    measured = {}
    for bot in bots:
        one, ten = combined(sequential[bot.label]), combined(concurrent[bot.label])
        summary(f"{bot.label}one sender, per turn", one.latencies, one.errors, one.wall)
        if "--per-turn" in sys.argv:
            for index, turn in enumerate(CONVERSATION):
                summary(f"  turn {index}: {turn[:28]}", one.latencies[index :: len(CONVERSATION)])
        summary(f"{bot.label}10 concurrent conversations, per turn", ten.latencies, ten.errors, ten.wall)
        measured[bot.label] = (one, ten)
    return measured


def ten_concurrent(
    say: Say, *, reply_expected: bool = True, conversations: int = 30, first: int = 0
) -> Measured:
    """``conversations`` conversations, 10 at a time (numbered from ``first``: each has its own sender)."""

    def conversation(i: int) -> tuple[list[float], int]:
        return one_conversation(say, f"bench-par-{i}", 1000 + i, reply_expected=reply_expected)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(conversation, range(first, first + conversations)))
    return Measured(
        [latency for latencies, _ in results for latency in latencies],
        sum(e for _, e in results),
        time.perf_counter() - started,
    )


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_training() -> None:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [str(RASA), "train", "--out", out, "--fixed-model-name", "bench", "--force"],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        )
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{'training (rasa train --force)':<46} wall={wall:6.1f} s   peak RSS={peak:7.0f} MB")


def main() -> None:
    print(f"Embudo stack benchmark — {os.cpu_count()} cores, SQLite tracker store and CRM")
    if "--skip-training" not in sys.argv:
        bench_training()
    with tempfile.TemporaryDirectory() as workdir, running_stack(Path(workdir)) as stack:
        print(f"{'model load (start → /status ready)':<46} {stack.model_load_seconds:6.1f} s")
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Bench Rep", languages=["en"], capacity=100_000))

        measure_bots([Bot("", stack.say)])

        labels = {"rasa": "Rasa server", "actions": "action server + CRM", "web": "web app"}
        for name, process in stack.processes.items():
            print(f"{'peak RSS ' + labels[name]:<46} {peak_rss_mb(process.pid):7.0f} MB")


if __name__ == "__main__":
    main()
