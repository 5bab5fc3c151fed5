"""Benchmarks of the channels: visitor's last answer → rep's Telegram message, and the widget's round trip
in a real browser. Run with `make bench`. Prints figures; asserts nothing (targets are in the README)."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm_core.db import unit_of_work
from crm_core.people.reps import add_rep
from crm_core.schemas import NewRep
from tests.browser import headless_chromium
from tests.fake_telegram import FakeTelegram
from tests.harness import APP_PYTHON, ROOT, running_stack

# Wording kept apart from the training data, like the tests'.
TURNS = [
    "hi team",
    "we need a chatbot that books demos for our sales team",
    "about 25k dollars",
    "I run the company and the decision is mine",
    "we need it this week if we can",
    "Vandelay Industries",
    "Art Vandelay",
    "art{n}@vandelay.example",
]


def settle(count: Callable[[], int], quiet: float = 0.5) -> None:
    """Wait until no further reply arrives for ``quiet`` seconds, as a visitor reads before typing again.
    Typing the next message while the previous turn is still replying queues it behind that turn in
    Rasa (one conversation is processed in order) and measured the queue, not the round trip."""
    seen = count()
    while True:
        time.sleep(quiet)
        if count() == seen:
            return
        seen = count()


def summary(label: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"{label:<46} n={len(ms):>3}  p50={statistics.median(ms):7.1f} ms  p95={p95:7.1f} ms  max={ms[-1]:7.1f} ms"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir, running_stack(Path(workdir)) as stack:
        fake = FakeTelegram()
        bot_api = fake.serve()
        with unit_of_work(stack.crm_url) as session:
            add_rep(
                session,
                NewRep(name="Bench Rep", languages=["en", "es"], telegram_chat_id=9100, capacity=10_000),
            )
        env = {
            **os.environ,
            "EMBUDO_DATABASE_URL": stack.crm_url,
            "EMBUDO_TELEGRAM_TOKEN": "123456:BENCH",
            "EMBUDO_TELEGRAM_API_BASE_URL": fake.base_url,
        }
        notifier = subprocess.Popen(
            [str(APP_PYTHON), "-m", "bot.notify.worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            handoff = []
            for n in range(20):
                sender = f"bench-handoff-{n}"
                for turn in TURNS:
                    stack.say(sender, turn.format(n=n))
                before = len(fake.sent(chat_id=9100))
                started = time.perf_counter()
                stack.say(sender, "/affirm")
                fake.wait_for(
                    lambda before=before: len(fake.sent(chat_id=9100)) > before, 30, "the rep's message"
                )
                handoff.append(time.perf_counter() - started)
            summary("visitor's last answer → rep's Telegram message", handoff)
        finally:
            notifier.terminate()
            notifier.wait(timeout=20)
            bot_api.stop()

        with headless_chromium() as browser:
            page = browser.new_page()
            page.goto(stack.web_url)
            page.get_by_role("button", name="Chat with us").click()
            round_trips = []
            for turn in TURNS * 3:
                bot = page.locator(".ew-log .ew-bot")
                before = bot.count()
                started = time.perf_counter()
                page.fill("#ew-input", turn.format(n=99))
                page.press("#ew-input", "Enter")
                page.wait_for_function(
                    "n => document.querySelectorAll('.ew-log .ew-bot').length > n", arg=before, timeout=20_000
                )
                round_trips.append(time.perf_counter() - started)
                settle(bot.count)
            summary("widget round trip in Chromium (Enter → reply shown)", round_trips)


if __name__ == "__main__":
    main()
