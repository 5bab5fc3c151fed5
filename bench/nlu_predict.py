"""The Rasa half of `make eval` (runs in .venv-rasa): loads the evaluation model once and, for each held-out
file, writes Rasa's own reports (intent and entity F1) and every message's prediction with its ranking.

Usage: nlu_predict.py MODEL RESULTS_DIR TEST_FILE… — one `results-<stem>/` folder per TEST_FILE, named
after its parent folder (the language), each with predictions.json: [{text, target, predicted, ranking}].
"""

import asyncio
import json
import sys
from pathlib import Path

import yaml

# The model's graph names our components (nlu_components.…): they are imported from the project folder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rasa.core.agent import Agent
from rasa.nlu.test import run_evaluation
from rasa.shared.nlu.training_data.entities_parser import replace_entities

RANKING = 3


def _held_out(test_file: Path) -> list[tuple[str, str]]:
    """(text as the visitor typed it, intent without its retrieval key) of one held-out file."""
    examples = []
    for block in yaml.safe_load(test_file.read_text(encoding="utf-8"))["nlu"]:
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            if line.startswith("- "):
                examples.append((line[2:].strip(), block["intent"].split("/")[0]))
    return examples


async def _evaluate(model: str, results: Path, test_files: list[Path]) -> None:
    agent = Agent.load(model_path=model)
    for test_file in test_files:
        out = results / f"results-{test_file.parent.name}"
        await run_evaluation(
            str(test_file), agent.processor, output_directory=str(out), disable_plotting=True
        )
        predictions = []
        for text, target in _held_out(test_file):
            # Annotated entities ("[Spanish]{…}") are parsed as the visitor would type them.
            parsed = await agent.parse_message(_plain(text))
            ranking = [
                (r["name"], round(float(r["confidence"]), 4)) for r in parsed.get("intent_ranking", [])
            ]
            predictions.append(
                {
                    "text": _plain(text),
                    "target": target,
                    "predicted": parsed["intent"]["name"],
                    "ranking": ranking[:RANKING],
                }
            )
        (out / "predictions.json").write_text(
            json.dumps(predictions, ensure_ascii=False, indent=1), encoding="utf-8"
        )


def _plain(text: str) -> str:
    return str(replace_entities(text))


if __name__ == "__main__":
    asyncio.run(_evaluate(sys.argv[1], Path(sys.argv[2]), [Path(arg) for arg in sys.argv[3:]]))
