"""Where a turn's time goes under 10 concurrent conversations: py-spy samples the Rasa server and the action
server while bench/stack.py's 10-concurrent measurement runs, then prints each process's top frames.

Run with `make bench-profile`. The raw samples (py-spy's collapsed stacks, one file per process) are kept in
var/profile/ for flame graphs (e.g. `py-spy record --format flamegraph` or any collapsed-stack viewer).
Prints figures; asserts nothing.
"""

import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import one_conversation, summary, ten_concurrent
from crm_core.db import unit_of_work
from crm_core.people.reps import add_rep
from crm_core.schemas import NewRep
from tests.harness import ROOT, running_stack

OUT = ROOT / "var" / "profile"
PY_SPY = Path(sys.executable).parent / "py-spy"
TOP = 12
CONVERSATIONS = 20  # 10 at a time, 180 turns


def top_frames(collapsed: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Samples in all, and per frame the samples where it is running (self) and on the stack (total)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    return samples, own, total


def show(name: str, collapsed: Path) -> None:
    samples, own, total = top_frames(collapsed)
    print(f"\n{name}: {samples} samples while busy ({collapsed})")
    if not samples:
        return
    for title, counts in (("self", own), ("total (on the stack)", total)):
        print(f"  top frames, {title}:")
        for frame, count in counts.most_common(TOP):
            print(f"    {100 * count / samples:5.1f} %  {frame[:150]}")


def start_py_spy(pid: int, output: Path) -> "subprocess.Popen[bytes]":
    """py-spy recording process ``pid`` and its children (the action server's Sanic worker is one), busy samples
    only, 50 a second, until it gets SIGINT."""
    command = [
        str(PY_SPY), "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--rate", "50", "--nonblocking",
    ]  # fmt: skip
    return subprocess.Popen(
        [*command, "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def main() -> None:
    one, five, _ = os.getloadavg()
    print(
        f"Profile of 10 concurrent conversations — {os.cpu_count()} cores, load average {one:.1f} / {five:.1f}"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir, running_stack(Path(workdir)) as stack:
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Bench Rep", languages=["en"], capacity=100_000))
        one_conversation(stack.say, "bench-warm-up", 0)  # first turns load lazily what later turns reuse
        spies = {
            name: start_py_spy(stack.processes[name].pid, OUT / f"{name}.txt") for name in ("rasa", "actions")
        }
        try:
            ten = ten_concurrent(stack.say, conversations=CONVERSATIONS)
        finally:
            for recorder in spies.values():
                recorder.send_signal(2)  # py-spy writes its output on Ctrl-C
            for recorder in spies.values():
                recorder.wait(timeout=60)
        summary("10 concurrent conversations (profiled)", ten.latencies, ten.errors, ten.wall)
    for name, label in (("rasa", "Rasa server"), ("actions", "action server")):
        show(label, OUT / f"{name}.txt")


if __name__ == "__main__":
    main()
