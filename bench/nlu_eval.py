"""`make eval`: NLU evaluation on a held-out split, per language.

Each language's NLU file is split 80/20 (`rasa data split nlu`, fixed seed, per intent); one NLU model is
trained on the training parts of all languages together (as the real bot is), and tested on each language's
held-out part (bench/nlu_predict.py, in the Rasa environment). Per language it prints:

- intent macro-F1 and entity F1 (Rasa's own reports);
- buying-intent recall: the share of held-out `request_sales` messages predicted as `request_sales`
  (a fallback is a miss: the buyer was not recognised);
- off-topic stored: the share of held-out off-topic messages (`out_of_scope`, `chitchat`) that the form
  would store as an answer: predicted `inform`, or `nlu_fallback` whose best guess is `inform` and that is
  not a question (inside the form such a fallback is checked as an answer);
- the F1 of the intents a buyer must not be confused with, and the pairs of intents still confused.

Exits non-zero when any figure misses its target. The held-out examples are never seen in training, and
nothing is tuned on them: `--tune` splits the training part once more (80/20, another seed) and reports on
that inner part, so data and settings can be tried without looking at the held-out split.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm_core.understanding import is_question

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv-rasa" / "bin"
OUT = ROOT / "var" / "eval"
TARGETS = {"intent": 0.93, "entity": 0.90, "sales recall": 0.95, "off-topic stored": 0.02}
OFF_TOPIC = {"out_of_scope", "chitchat"}
WATCHED = ("request_sales", "request_human", "inform", "out_of_scope")


def rasa(*args: str) -> None:
    subprocess.run(
        [str(RASA_BIN / "rasa"), *args],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def report(path: Path) -> dict[str, dict[str, float]]:
    return json.loads(path.read_text()) if path.exists() else {}


def macro_f1(report_path: Path) -> float | None:
    macro = report(report_path).get("macro avg")
    return float(macro["f1-score"]) if macro else None


def best_guess(prediction: dict[str, object]) -> str | None:
    """The intent the classifier would have chosen had the fallback not stepped in."""
    ranking = prediction["ranking"]
    assert isinstance(ranking, list)
    return next((name for name, _ in ranking if name != "nlu_fallback"), None)


def stored_as_answer(prediction: dict[str, object]) -> bool:
    predicted = prediction["predicted"]
    if predicted == "inform":
        return True
    return (
        predicted == "nlu_fallback"
        and best_guess(prediction) == "inform"
        and not is_question(str(prediction["text"]))
    )


def share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def split(source: Path, seed: int, out: Path) -> None:
    rasa("data", "split", "nlu", "-u", str(source), "--training-fraction", "0.8",
         "--random-seed", str(seed), "--out", str(out))  # fmt: skip


def train_and_predict(config: str, languages: list[str], tune: bool) -> None:
    """Split, train on the training parts, and write every held-out prediction under OUT."""
    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "train").mkdir(parents=True)
    for language in languages:
        split(ROOT / "data" / f"nlu_{language}.yml", 3, OUT / language)
        if tune:  # the held-out 20% is set aside unread; the training 80% is split again
            (OUT / language).rename(OUT / f"{language}-outer")
            split(OUT / f"{language}-outer" / "training_data.yml", 11, OUT / language)
        shutil.copy(OUT / language / "training_data.yml", OUT / "train" / f"nlu_{language}.yml")
    load = os.getloadavg()[0]
    started = time.monotonic()
    rasa("train", "nlu", "-u", str(OUT / "train"), "-d", "domain.yml", "-c", config,
         "--out", str(OUT), "--fixed-model-name", "nlu-eval")  # fmt: skip
    print(
        f"NLU training on the 80% split: {time.monotonic() - started:.0f} s (load average {load:.1f} when it began)"
    )
    subprocess.run(
        [str(RASA_BIN / "python"), str(ROOT / "bench" / "nlu_predict.py"), str(OUT / "nlu-eval.tar.gz"), str(OUT)]
        + [str(OUT / language / "test_data.yml") for language in languages],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yml", help="pipeline to evaluate (default: config.yml)")
    parser.add_argument(
        "--report-only", action="store_true", help=f"report on the predictions already in {OUT}"
    )
    parser.add_argument(
        "--tune", action="store_true", help="train and report on an inner split of the training part"
    )
    arguments = parser.parse_args()
    languages = yaml.safe_load((ROOT / "domain.yml").read_text())["slots"]["language"]["values"]
    if not arguments.report_only:
        train_and_predict(arguments.config, languages, arguments.tune)
    failed = False
    confused: Counter[tuple[str, str]] = Counter()
    print(
        f"{'language':<9} {'held out':>8} {'intent macro-F1':>16} {'entity F1':>10} {'sales recall':>13} {'off-topic stored':>17}"
    )
    for language in languages:
        results = OUT / f"results-{language}"
        predictions = json.loads((results / "predictions.json").read_text(encoding="utf-8"))
        intent = macro_f1(results / "intent_report.json") or 0.0
        entity = macro_f1(results / "RegexEntityExtractor_report.json")
        buyers = [p for p in predictions if p["target"] == "request_sales"]
        recall = share(sum(p["predicted"] == "request_sales" for p in buyers), len(buyers))
        off_topic = [p for p in predictions if p["target"] in OFF_TOPIC]
        stored = share(sum(stored_as_answer(p) for p in off_topic), len(off_topic))
        confused.update((p["target"], p["predicted"]) for p in predictions if p["target"] != p["predicted"])
        entity_text = f"{entity:.3f}" if entity is not None else "n/a"
        print(
            f"{language:<9} {len(predictions):>8} {intent:>16.3f} {entity_text:>10} "
            f"{recall:>6.3f} ({len(buyers):>3}) {stored:>9.1%} ({len(off_topic):>3})"
        )
        intents = report(results / "intent_report.json")
        print(
            "          F1: "
            + ", ".join(f"{name} {intents.get(name, {}).get('f1-score', 0):.3f}" for name in WATCHED)
        )
        failed |= intent < TARGETS["intent"] or (entity is not None and entity < TARGETS["entity"])
        failed |= recall < TARGETS["sales recall"] or stored > TARGETS["off-topic stored"]
    pairs = ", ".join(f"{target} → {predicted} ×{n}" for (target, predicted), n in confused.most_common(8))
    print(f"most confused (held out → predicted, both languages): {pairs or 'none'}")
    print(
        f"targets: intent ≥ {TARGETS['intent']}, entity ≥ {TARGETS['entity']}, sales recall ≥ {TARGETS['sales recall']}, "
        f"off-topic stored ≤ {TARGETS['off-topic stored']:.0%}; reports in {OUT}"
    )
    if failed:
        print("make eval: a target was missed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
