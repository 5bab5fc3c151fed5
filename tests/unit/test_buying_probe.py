"""Guards the buying-intent probe (bench/probes/buying_*.yml, measured by bench/probe_buying.py): it is never
trained on — no probe sentence is a training example, a test story's message, or one word away from one —
and none is an external dev set sentence or a close variant."""

import json
from pathlib import Path

import pytest
import yaml

from tests.unit.test_bot_data import _labelled_examples, _plain, near_duplicates
from tests.unit.test_dialogue_personas import DEVSET, _words

ROOT = Path(__file__).resolve().parents[2]
PROBES = sorted((ROOT / "bench" / "probes").glob("buying_*.yml"))


def _probe_sentences() -> list[str]:
    found = []
    for path in PROBES:
        probe = yaml.safe_load(path.read_text(encoding="utf-8"))
        found += [
            text for kind in ("buying", "not_buying") for texts in probe[kind].values() for text in texts
        ]
    return found


def test_a_probe_per_language_with_buying_requests_and_near_misses() -> None:
    assert {path.stem for path in PROBES} == {"buying_en", "buying_es"}
    for path in PROBES:
        probe = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert sum(map(len, probe["buying"].values())) >= 40
        assert sum(map(len, probe["not_buying"].values())) >= 25
        assert "NEVER TRAINED ON" in path.read_text(encoding="utf-8")


def test_no_probe_sentence_is_trained_on_or_one_word_from_a_training_example() -> None:
    probe = _probe_sentences()
    training = [
        example for path in (ROOT / "data").glob("nlu_*.yml") for _, example in _labelled_examples(path)
    ]
    stories = yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text(encoding="utf-8"))["stories"]
    training += [step["user"].strip() for story in stories for step in story["steps"] if "user" in step]
    # One label for all: a probe sentence one word away from an example of any intent is too close.
    pairs = near_duplicates([("any", text) for text in [*training, *probe]])
    mine = {_plain(text) for text in probe}
    leaked = sorted(pair for pair in pairs if _plain(pair[0]) in mine or _plain(pair[1]) in mine)
    exact = sorted(mine & {_plain(text) for text in training})
    assert not exact and not leaked, (exact, leaked)


@pytest.mark.skipif(not DEVSET.exists(), reason="the external dev set is not on this machine")
def test_no_probe_sentence_is_a_dev_set_sentence_or_a_close_variant() -> None:
    personas = json.loads(DEVSET.read_text(encoding="utf-8"))
    theirs = [text for text in _strings(personas) if len(_words(text)) >= 4]
    close = [
        (ours, dev)
        for ours in _probe_sentences()
        if len(mine := _words(ours)) >= 4
        for dev in theirs
        if len(mine & (words := _words(dev))) / len(mine | words) >= 0.6
    ]
    assert not close, close


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
