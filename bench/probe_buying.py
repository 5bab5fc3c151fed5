"""The buying-intent probe (runs in .venv-rasa): parses every sentence of bench/probes/buying_<lang>.yml with a
trained model, the whole NLU pipeline (guards and fallback included), and prints per category how many
buying requests came out `request_sales` and how many near-misses did not, with every miss.

The probe is never trained on: it measures whether buying requests of every kind — written fresh, not
drawn from the training data — reach the qualifying questions.

Usage: probe_buying.py MODEL [PROBE_FILE…] (default: every bench/probes/buying_*.yml); --json OUT writes
each sentence's prediction.
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path

import yaml

# The model's graph names our components (nlu_components.…): they are imported from the project folder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rasa.core.agent import Agent

ROOT = Path(__file__).resolve().parent.parent
BUYING = "request_sales"


async def _probe(model: str, files: list[Path]) -> list[dict[str, object]]:
    agent = Agent.load(model_path=model)
    rows: list[dict[str, object]] = []
    for path in files:
        probe = yaml.safe_load(path.read_text(encoding="utf-8"))
        for kind in ("buying", "not_buying"):
            for category, texts in probe[kind].items():
                for text in texts:
                    parsed = await agent.parse_message(text)
                    ranking = [
                        (r["name"], round(float(r["confidence"]), 3)) for r in parsed["intent_ranking"]
                    ]
                    predicted = parsed["intent"]["name"]
                    rows.append(
                        {
                            "file": path.stem,
                            "kind": kind,
                            "category": category,
                            "text": text,
                            "predicted": predicted,
                            "ranking": ranking[:3],
                            "right": (predicted == BUYING) == (kind == "buying"),
                        }
                    )
    return rows


def _report(rows: list[dict[str, object]]) -> None:
    for stem in sorted({str(r["file"]) for r in rows}):
        mine = [r for r in rows if r["file"] == stem]
        for kind in ("buying", "not_buying"):
            of_kind = [r for r in mine if r["kind"] == kind]
            right = sum(1 for r in of_kind if r["right"])
            label = "recall (request_sales)" if kind == "buying" else "kept apart (not request_sales)"
            print(f"{stem} {kind}: {right} / {len(of_kind)} = {right / len(of_kind):.3f} {label}")
            for category in dict.fromkeys(str(r["category"]) for r in of_kind):
                in_category = [r for r in of_kind if r["category"] == category]
                good = sum(1 for r in in_category if r["right"])
                print(f"    {category:24} {good:3} / {len(in_category)}")
        for r in mine:
            if not r["right"]:
                print(f"  MISS [{r['kind']}/{r['category']}] {r['text']!r} → {r['predicted']} {r['ranking']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    files = args.files or sorted((ROOT / "bench" / "probes").glob("buying_*.yml"))
    rows = asyncio.run(_probe(args.model, files))
    _report(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
