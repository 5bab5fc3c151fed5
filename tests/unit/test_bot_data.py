"""Checks on the bot's data that `rasa data validate` does not make: languages and test wording."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
LANGUAGES = DOMAIN["slots"]["language"]["values"]


def _labelled_examples(path: Path) -> list[tuple[str, str]]:
    """(intent, example) pairs of one NLU file."""
    found = []
    for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
        if "intent" in block:
            lines = block["examples"].splitlines()
            found += [(block["intent"], line[2:].strip()) for line in lines if line.startswith("- ")]
    return found


def _examples(path: Path) -> list[str]:
    return [example for _, example in _labelled_examples(path)]


def _plain(text: str) -> str:
    """An annotated example as the visitor typed it: '[Spanish]{…}' → 'Spanish', lower case."""
    text = re.sub(r"\[([^\]]+)\](\{[^}]*\}|\([^)]*\))", r"\1", text)
    return " ".join(text.lower().split())


def _words(text: str) -> tuple[str, ...]:
    """The words of an example as the visitor typed them, without case and punctuation (accents stay:
    "adiós" and "adios" are both real spellings)."""
    return tuple(re.findall(r"[\w@.+'-]+", _plain(text).replace("’", "'")))


def near_duplicates(examples: list[tuple[str, str]], min_words: int = 4) -> set[tuple[str, str]]:
    """Pairs of examples that leak into each other across a random train/test split: the same words in two
    intents, or, within one intent, examples of at least ``min_words`` words that differ by one word
    (swapped, added or removed; two longer examples that become equal when one word is dropped from each)."""
    seen: dict[tuple[object, ...], list[str]] = {}
    pairs: set[tuple[str, str]] = set()
    for intent, example in examples:
        words = _words(example)
        keys: list[tuple[object, ...]] = [("same", words)]
        if len(words) >= min_words:
            keys += [("one word swapped", intent, i, words[:i] + words[i + 1 :]) for i in range(len(words))]
            keys.append(("one word dropped", intent, words))
        if len(words) > min_words:
            keys += [("one word dropped", intent, words[:i] + words[i + 1 :]) for i in range(len(words))]
        for key in keys:
            pairs.update((other, example) for other in seen.get(key, []) if other != example)
            seen.setdefault(key, []).append(example)
    return pairs


def test_near_duplicates_are_found() -> None:
    examples = [
        ("greet", "hi"),
        ("greet", "Hi!"),
        ("stop", "please stop asking me"),
        ("stop", "please stop asking us"),
        ("stop", "please just stop asking me"),
        ("stop", "stop"),
        ("deny", "no"),
        ("deny", "I don't agree with that"),
        ("affirm", "I do agree with that"),
    ]
    assert near_duplicates(examples) == {
        ("hi", "Hi!"),
        ("please stop asking me", "please stop asking us"),
        ("please stop asking me", "please just stop asking me"),
    }


def test_no_near_duplicate_examples_inflate_the_held_out_score() -> None:
    for path in (ROOT / "data").glob("nlu_*.yml"):
        assert not near_duplicates(_labelled_examples(path)), path.name


def test_every_language_has_its_nlu_file_with_at_least_as_many_examples_as_english() -> None:
    english = len(_examples(ROOT / "data" / "nlu_en.yml"))
    for language in LANGUAGES:
        assert len(_examples(ROOT / "data" / f"nlu_{language}.yml")) >= english, language


def test_every_response_has_a_variation_for_every_language() -> None:
    for name, variations in DOMAIN["responses"].items():
        assert any(not v.get("condition") for v in variations), f"{name} has no default variation"
        for language in LANGUAGES:
            if language == "en":
                continue
            assert any(
                c.get("name") == "language" and c.get("value") == language
                for v in variations
                for c in v.get("condition") or []
            ), f"{name} has no {language} variation"


def test_every_question_of_the_form_can_be_explained() -> None:
    for slot in DOMAIN["forms"]["qualification_form"]["required_slots"]:
        assert f"utter_ask_{slot}" in DOMAIN["responses"]
        assert f"utter_why_{slot}" in DOMAIN["responses"]


def test_test_wording_is_never_in_the_training_data() -> None:
    training = {_plain(e) for path in (ROOT / "data").glob("nlu_*.yml") for e in _examples(path)}
    stories = yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text(encoding="utf-8"))["stories"]
    said = [_plain(step["user"]) for story in stories for step in story["steps"] if "user" in step]
    assert len(stories) >= 40
    leaked = [text for text in said if text in training]
    assert not leaked, leaked
    for path in [
        *(ROOT / "tests" / "integration").glob("test_*.py"),
        *(ROOT / "tests" / "scale").glob("*.py"),
    ]:
        quoted = re.findall(r'"([^"\n]{6,})"', path.read_text(encoding="utf-8"))
        leaked = [text for text in quoted if _plain(text) in training]
        assert not leaked, (path.name, leaked)


def test_short_messages_take_their_language_from_the_training_data() -> None:
    from actions.language import detect

    assert detect("Hello!", LANGUAGES) == "en"
    assert detect("hola", LANGUAGES) == "es"
    assert detect("necesitamos un asistente para la web de la tienda", LANGUAGES) == "es"
    assert detect("12345", LANGUAGES) is None
