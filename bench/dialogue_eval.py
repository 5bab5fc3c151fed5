"""`make eval-dialogue`: simulated visitors chat with the real stack over Rasa's REST channel.

Each persona (bench/visitors.py) sends its opening and `then` messages, then answers whatever the form asks
(`requested_slot` while a loop is active, read from the tracker after every turn) until nothing more is
asked or 30 turns have passed. The lead the CRM ends with is compared with the persona's `expect`.

Prints a table per persona set, the totals and each failure with its transcript, writes JSON to
var/eval-dialogue/, and exits non-zero when a set has fewer than 95 % of its personas exactly right.
"""

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.visitors import Persona, PersonaFileError, Visitor, load_personas
from crm_core.db import unit_of_work
from crm_core.models import Lead
from crm_core.people.reps import add_rep
from crm_core.sales.leads import list_leads
from crm_core.schemas import NewRep
from tests.harness import ROOT, Stack, running_stack

OURS = ROOT / "bench" / "personas"
DEVSET = ROOT.parent / "shared" / "conversation-devset" / "personas.json"
OUT = ROOT / "var" / "eval-dialogue"
MAX_TURNS = 30
TARGET = 0.95
LOCALES = {"en": "en-US", "es": "es-ES"}  # what the website widget would send from the visitor's browser

# Report column → the `expect` fields it checks.
COLUMNS = {
    "class": ("qualification",),
    "temperature": ("temperature",),
    "authority": ("authority",),
    "budget": ("budget_amount", "budget_currency"),
    "timeline": ("timeline_days",),
    "contact": ("email", "phone"),
    "other": ("company_size", "name"),
}


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


# How each `expect` field is checked against the lead (a dict of the CRM's values).
MATCHES: dict[str, Callable[[Any, Any], bool]] = {
    "qualification": lambda want, got: got == want,
    "temperature": lambda want, got: got == want,
    "authority": lambda want, got: got == want,
    "budget_amount": lambda want, got: got is not None and abs(float(got) - float(want)) <= 1,
    "budget_currency": lambda want, got: got is not None and got.upper() == want.upper(),
    "email": lambda want, got: got is not None and got.casefold() == want.casefold(),
    "phone": lambda want, got: got is not None and _digits(got) == _digits(want),
    "company_size": lambda want, got: got == want,
    "timeline_days": lambda want, got: got is not None and want[0] <= got <= want[1],
    "name": lambda want, got: got is not None and _words(got) == _words(want),
}


@dataclass
class Turn:
    visitor: str
    bot: list[str]
    asked: str | None  # the question open after this turn


@dataclass
class Result:
    id: str
    lang: str
    turns: int
    taken_into_qualification: bool
    lead: dict[str, Any] | None
    checks: dict[str, dict[str, Any]]  # expect field → {"expected", "got", "right"}
    transcript: list[Turn] = field(default_factory=list)

    @property
    def exactly_right(self) -> bool:
        return all(check["right"] for check in self.checks.values())

    def column(self, name: str) -> bool | None:
        """Whether every expected field of a report column is right; None when nothing there is expected."""
        checked = [self.checks[f]["right"] for f in COLUMNS[name] if f in self.checks]
        return all(checked) if checked else None


def _reply_text(replies: list[dict[str, Any]]) -> list[str]:
    texts = []
    for reply in replies:
        text = str(reply.get("text") or "")
        if reply.get("buttons"):
            text += " [" + " | ".join(str(b.get("title")) for b in reply["buttons"]) + "]"
        texts.append(text)
    return texts


def open_question(tracker: dict[str, Any]) -> str | None:
    """The slot the bot is asking for, if a form is active and asking."""
    loop = (tracker.get("active_loop") or {}).get("name")
    slot = (tracker.get("slots") or {}).get("requested_slot")
    return str(slot) if loop and slot else None


def find_lead(stack: Stack, sender: str) -> dict[str, Any] | None:
    """The lead of conversation ``sender`` as the CRM holds it, or None when none was captured."""
    with unit_of_work(stack.crm_url) as session:
        found = [lead for lead in list_leads(session, limit=10_000) if lead.conversation_id == sender]
        if not found:
            return None
        lead = found[0]
        row = session.get(Lead, lead.id)
        return {
            "qualification": lead.qualification.value,
            "temperature": lead.temperature.value,
            "authority": lead.authority.value,
            "budget_amount": float(lead.budget_amount) if lead.budget_amount is not None else None,
            "budget_currency": lead.budget_currency,
            "timeline_days": lead.timeline_days,
            "email": lead.email,
            "phone": lead.phone,
            "company_size": row.company_size if row else None,
            "name": lead.name,
            "need": lead.need,
            "company": lead.company,
            "score": lead.score,
            "leads_found": len(found),
        }


def converse(stack: Stack, persona: Persona, sender: str, verbose: bool = False) -> Result:
    visitor = Visitor(persona)
    metadata = {"locale": LOCALES[persona.lang]}
    transcript: list[Turn] = []
    replies: list[dict[str, Any]] = []

    def say(text: str) -> str | None:
        nonlocal replies
        replies = stack.say(sender, text, metadata)
        asked = open_question(stack.tracker(sender))
        transcript.append(Turn(text, _reply_text(replies), asked))
        if verbose:
            print(f"    > {text}")
            for line in transcript[-1].bot:
                print(f"    < {line}")
            print(f"      (asking: {asked})")
        return asked

    asked = None
    for message in [persona.opening, *persona.then]:
        asked = say(message)
    if asked is None and "need" in persona.facts:  # nothing asked: say what they want, as a person would
        need = persona.facts["need"]
        asked = say(need[0] if isinstance(need, list) else need)
    taken = asked is not None
    while asked is not None and len(transcript) < MAX_TURNS:
        asked = say(visitor.press(visitor.answer(asked), replies))

    lead = find_lead(stack, sender)
    checks = {}
    for name, want in persona.expect.model_dump(exclude_none=True, mode="json").items():
        got = lead.get(name) if lead else None
        checks[name] = {"expected": want, "got": got, "right": lead is not None and MATCHES[name](want, got)}
    return Result(persona.id, persona.lang, len(transcript), taken, lead, checks, transcript)


# --------------------------------------------------------------------------- report


def _mark(value: bool | None) -> str:
    return {True: "ok", False: "NO", None: "."}[value]


def _short(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def report(title: str, results: list[Result]) -> dict[str, Any]:
    """Print one set's table, totals and failures; return the same as JSON-ready data."""
    names = list(COLUMNS)
    width = max([len(r.id) for r in results] + [7])
    print(f"\n== {title}: {len(results)} personas ==")
    print(f"{'persona':<{width}}  lang  " + "  ".join(names) + "  turns  exact")
    for r in results:
        cells = "  ".join(f"{_mark(r.column(n)):<{len(n)}}" for n in names)
        print(f"{r.id:<{width}}  {r.lang:<4}  {cells}  {r.turns:>5}  {_mark(r.exactly_right)}")

    totals: dict[str, Any] = {}
    for name in names:
        judged = [r.column(name) for r in results if r.column(name) is not None]
        totals[name] = {"right": sum(bool(j) for j in judged), "of": len(judged)}
    exact = sum(r.exactly_right for r in results)
    taken = sum(r.taken_into_qualification for r in results)
    by_lang = {
        lang: {"exact": sum(r.exactly_right for r in group), "of": len(group)}
        for lang in sorted({r.lang for r in results})
        if (group := [r for r in results if r.lang == lang])
    }
    share = exact / len(results) if results else 0.0
    print("\ntotal: " + ", ".join(f"{n} {t['right']}/{t['of']}" for n, t in totals.items() if t["of"]))
    print(f"taken into qualification {taken}/{len(results)}; no lead {sum(r.lead is None for r in results)}")
    turns = [r.turns for r in results]
    print(f"turns: mean {sum(turns) / len(turns):.1f}, max {max(turns)}")
    print(
        "exactly right by language: " + ", ".join(f"{k} {v['exact']}/{v['of']}" for k, v in by_lang.items())
    )
    verdict = "met" if share >= TARGET else "NOT met"
    print(f"EXACTLY RIGHT: {exact}/{len(results)} = {share:.1%} (target ≥ {TARGET:.0%}: {verdict})")

    failures = [r for r in results if not r.exactly_right]
    if failures:
        print(f"\n-- failures of {title} --")
    for r in failures:
        wrong = [
            f"{n}: expected {c['expected']!r}, got {c['got']!r}"
            for n, c in r.checks.items()
            if not c["right"]
        ]
        print(f"\n{r.id} ({r.lang}, {r.turns} turns{'' if r.lead else ', no lead'}): " + "; ".join(wrong))
        for turn in r.transcript:
            print(f"  visitor: {_short(turn.visitor)}")
            for line in turn.bot:
                print(f"  bot:     {_short(line)}")
    return {
        "set": title,
        "personas": len(results),
        "exactly_right": exact,
        "share": round(share, 4),
        "target": TARGET,
        "target_met": share >= TARGET,
        "taken_into_qualification": taken,
        "totals": totals,
        "by_language": by_lang,
        "results": [
            {**asdict(r), "exactly_right": r.exactly_right, "transcript": [asdict(t) for t in r.transcript]}
            for r in results
        ],
    }


def _set_name(path: Path) -> str:
    if path.resolve() == OURS.resolve():
        return "ours"
    if path.resolve() == DEVSET.resolve():
        return "devset"
    return path.stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--personas",
        action="append",
        type=Path,
        help="a persona file or a folder of them; repeat for several sets, each its own report "
        f"(default: {OURS.relative_to(ROOT)})",
    )
    parser.add_argument("--only", help="run only the persona with this id")
    parser.add_argument("--lang", choices=["en", "es"], help="run only the personas of this language")
    parser.add_argument("--verbose", action="store_true", help="print every turn as it happens")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens

    sets: list[tuple[str, list[Persona]]] = []
    for path in args.personas or [OURS]:
        if not path.exists():
            print(f"{path}: not found, skipped")
            continue
        try:
            personas = load_personas(path)
        except PersonaFileError as error:
            print(f"cannot use {path}:\n{error}", file=sys.stderr)
            return 2
        personas = [p for p in personas if (args.only in (None, p.id)) and (args.lang in (None, p.lang))]
        if personas:
            sets.append((_set_name(path), personas))
    if not sets:
        print("no personas to run (check --personas, --only and --lang)", file=sys.stderr)
        return 2

    OUT.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    met = True
    with tempfile.TemporaryDirectory() as workdir, running_stack(Path(workdir)) as stack:
        with unit_of_work(stack.crm_url) as session:
            add_rep(session, NewRep(name="Eval Rep", languages=["en", "es"], capacity=100_000))
        for title, personas in sets:
            results = []
            for persona in personas:
                if args.verbose:
                    print(f"\n  {persona.id}")
                result = converse(stack, persona, f"eval-{title}-{persona.id}", args.verbose)
                results.append(result)
                print(f"  {title} {len(results)}/{len(personas)} {persona.id}: {_mark(result.exactly_right)}")
            summary = report(title, results)
            summary["run_at"] = started.isoformat(timespec="seconds")
            out = OUT / f"{title}.json"
            out.write_text(json.dumps(summary, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
            print(f"\nwritten: {out.relative_to(ROOT)}")
            met = met and summary["target_met"]
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
