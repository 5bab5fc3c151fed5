"""`make eval`: NLU evaluation on a held-out split, per language.

Each language's NLU file is split 80/20 (`rasa data split nlu`, fixed seed); one NLU model is trained on
the training parts of all languages together (as the real bot is), and tested on each language's
held-out part. Prints intent macro-F1 and entity F1 per language. The held-out examples are never seen
in training, and nothing is tuned on them.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RASA = str(ROOT / ".venv-rasa" / "bin" / "rasa")
OUT = ROOT / "var" / "eval"
TARGETS = {"intent": 0.93, "entity": 0.90}


def rasa(*args: str) -> None:
    subprocess.run([RASA, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def macro_f1(report_path: Path) -> float | None:
    if not report_path.exists():
        return None
    report = json.loads(report_path.read_text())
    return float(report["macro avg"]["f1-score"]) if "macro avg" in report else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yml", help="pipeline to evaluate (default: config.yml)")
    config = parser.parse_args().config
    languages = yaml.safe_load((ROOT / "domain.yml").read_text())["slots"]["language"]["values"]
    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "train").mkdir(parents=True)
    for language in languages:
        rasa("data", "split", "nlu", "-u", f"data/nlu_{language}.yml", "--training-fraction", "0.8",
             "--random-seed", "3", "--out", str(OUT / language))  # fmt: skip
        shutil.copy(OUT / language / "training_data.yml", OUT / "train" / f"nlu_{language}.yml")
    started = time.monotonic()
    rasa("train", "nlu", "-u", str(OUT / "train"), "-d", "domain.yml", "-c", config,
         "--out", str(OUT), "--fixed-model-name", "nlu-eval")  # fmt: skip
    print(f"NLU training on the 80% split: {time.monotonic() - started:.0f} s")
    failed = False
    print(f"{'language':<9} {'test examples':>13} {'intent macro-F1':>16} {'entity F1':>10}")
    for language in languages:
        results = OUT / f"results-{language}"
        test_file = OUT / language / "test_data.yml"
        rasa(
            "test",
            "nlu",
            "-u",
            str(test_file),
            "--model",
            str(OUT / "nlu-eval.tar.gz"),
            "--out",
            str(results),
        )
        blocks = yaml.safe_load(test_file.read_text())["nlu"]
        count = sum(len(block.get("examples", "").splitlines()) for block in blocks if "intent" in block)
        intent = macro_f1(results / "intent_report.json")
        entity = macro_f1(results / "RegexEntityExtractor_report.json")
        entity_text = f"{entity:.3f}" if entity is not None else "n/a"
        print(f"{language:<9} {count:>13} {intent or 0:>16.3f} {entity_text:>10}")
        failed |= (intent or 0) < TARGETS["intent"] or (entity is not None and entity < TARGETS["entity"])
    print(f"targets: intent ≥ {TARGETS['intent']}, entity ≥ {TARGETS['entity']}; reports in {OUT}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
