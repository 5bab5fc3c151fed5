"""Prints the fault suite's table at the end of the run: per fault, what was lost (all 0) and the replies."""

from typing import Any

import pytest

RESULTS: list[tuple[str, dict[str, int], list[str]]] = []
# The Telegram faults' rows (tests/faults/test_telegram_faults.py): messages and cards lost / duplicated.
TELEGRAM_HEADER = "fault                          | msgs lost | msgs dup | cards lost | cards dup | checked"
TELEGRAM_ROWS: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    write = terminalreporter.write_line
    if TELEGRAM_ROWS:
        write("")
        write(TELEGRAM_HEADER)
        for row in TELEGRAM_ROWS:
            write(row)
    if not RESULTS:
        return
    columns = list(RESULTS[0][1])
    write("")
    write("fault".ljust(34) + " | " + " | ".join(columns))
    for fault, counts, _ in RESULTS:
        write(fault.ljust(34) + " | " + " | ".join(str(counts[c]).rjust(len(c)) for c in columns))
    for fault, _, replies in RESULTS:
        write(f"\n{fault}: the replies seen")
        for reply in replies:
            write(f"  > {reply}")


@pytest.fixture
def report() -> Any:
    def add(fault: str, counts: dict[str, int], replies: list[str]) -> None:
        RESULTS.append((fault, counts, replies))

    return add
