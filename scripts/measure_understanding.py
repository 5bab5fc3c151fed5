"""Prints how long crm_core.understanding takes per message (not a test: timings vary with the machine).

PYTHONPATH=$PWD .venv/bin/python scripts/measure_understanding.py
"""

import statistics
import time
from collections.abc import Callable
from datetime import date

MESSAGES = [
    "we'd like it live by the end of May",
    "la segunda semana de abril, más o menos",
    "our current licence renews in six weeks",
    "no antes del segundo trimestre del año que viene",
    "sometime after the summer",
    "by April 20th",
    "el 2 de abril",
    "cuando venza el contrato, dentro de ocho meses",
    "$25 per seat per month, we'd start with 12 seats",
    "entre 6 y 9 mil euros",
    "around 15k, we're 35 people",
    "I manage the clinic; the senior partner approves anything over a grand",
    "soy socio, lo decidimos entre mi socia y yo",
    "oops, typo in my address: marta.vidal@northwind.example",
    "sorry - full name is Dolores Ibarra Sanz",
    "we need a booking bot for three hair salons",
]


def timed(label: str, call: Callable[[str], object]) -> None:
    runs = []
    for _ in range(5):
        for text in MESSAGES:
            started = time.perf_counter()
            call(text)
            runs.append((time.perf_counter() - started) * 1000)
    runs.sort()
    p95 = runs[int(len(runs) * 0.95) - 1]
    print(f"{label:<22} p50 {statistics.median(runs):6.2f} ms   p95 {p95:6.2f} ms   max {runs[-1]:6.2f} ms")


def main() -> None:
    started = time.perf_counter()
    from crm_core import understanding as u

    print(f"import crm_core.understanding   {(time.perf_counter() - started) * 1000:.0f} ms")
    started = time.perf_counter()
    u.parse_timeline_days("el 2 de abril", today=date(2026, 3, 18))
    print(f"first timeline (Duckling start) {(time.perf_counter() - started) * 1000:.0f} ms")
    timed("parse_timeline_days", lambda text: u.parse_timeline_days(text, language="es"))
    timed("  (both languages)", u.parse_timeline_days)
    timed("mentions_timeline", u.mentions_timeline)
    timed("parse_budget", u.parse_budget)
    timed("mentions_budget", u.mentions_budget)
    timed("parse_company_size", u.parse_company_size)
    timed("parse_authority", u.parse_authority)
    timed("find_email", u.find_email)
    timed("find_person_name", u.find_person_name)
    timed("find_phone", lambda text: u.find_phone(text, "ES"))


if __name__ == "__main__":
    main()
