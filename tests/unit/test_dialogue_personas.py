"""Guards the dialogue benchmark's personas (bench/personas/): valid, enough of them in both languages, and
written fresh — none of their sentences is in the training data, the test stories or the external dev set."""

import json
import re
from pathlib import Path

import pytest
import yaml

from bench.visitors import REFUSALS, Persona, PersonaFileError, Visitor, load_personas
from crm_core.qualification.policy import load_policy, temperature_of
from tests.unit.test_bot_data import _examples, _plain

ROOT = Path(__file__).resolve().parents[2]
OURS = load_personas(ROOT / "bench" / "personas")
DEVSET = ROOT.parent / "shared" / "conversation-devset" / "personas.json"


def _said(personas: list[Persona]) -> list[str]:
    return [sentence for persona in personas for sentence in persona.sentences()]


def _button_titles() -> set[str]:
    """The titles of the bot's own buttons: saying one is pressing it, not a sentence of ours."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {
        _plain(button["title"])
        for variations in domain["responses"].values()
        for variation in variations
        for button in variation.get("buttons") or []
    }


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", _plain(text)))


def test_enough_personas_half_of_them_spanish() -> None:
    assert len(OURS) >= 60
    assert 2 * sum(p.lang == "es" for p in OURS) >= len(OURS)
    assert len({p.id for p in OURS}) == len(OURS)


def test_expected_timelines_agree_with_the_expected_temperature() -> None:
    policy = load_policy(ROOT / "crm_core" / "qualification" / "qualification_policy.yml")
    for persona in OURS:
        expect = persona.expect
        if expect.timeline_days and expect.temperature:
            low, high = expect.timeline_days
            assert temperature_of(low, policy) == temperature_of(high, policy) == expect.temperature, (
                persona.id
            )


def test_a_broken_file_is_refused_with_every_problem(tmp_path: Path) -> None:
    good = OURS[0].model_dump(mode="json", exclude_none=True)
    bad = {**good, "id": "Bad Id", "lang": "fr", "facts": {"budget": ""}}
    path = tmp_path / "personas.json"
    path.write_text(json.dumps([good, bad, good]), encoding="utf-8")
    with pytest.raises(PersonaFileError) as refused:
        load_personas(path)
    message = str(refused.value)
    assert "persona Bad Id: id" in message and "persona Bad Id: lang" in message
    assert "facts" in message
    assert f"repeated persona ids: {good['id']}" in message


def test_the_visitor_answers_in_order_and_presses_matching_buttons() -> None:
    persona = Persona.model_validate(
        {
            "id": "t",
            "lang": "es",
            "opening": "hola",
            "facts": {"email": ["primero", "segundo"], "consent": "Sí, por favor"},
            "expect": {"qualification": "mql"},
        }
    )
    visitor = Visitor(persona)
    assert [visitor.answer("email") for _ in range(3)] == ["primero", "segundo", "segundo"]
    assert visitor.answer("authority") == REFUSALS["es"]
    buttons = [{"text": "¿?", "buttons": [{"title": "Sí, por favor", "payload": "/affirm"}]}]
    assert visitor.press(visitor.answer("consent"), buttons) == "/affirm"
    assert visitor.press("sí, por favor!", []) == "sí, por favor!"


def test_no_persona_sentence_is_in_the_training_data_or_the_test_stories() -> None:
    known = {_plain(e) for path in (ROOT / "data").glob("nlu_*.yml") for e in _examples(path)}
    stories = yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text(encoding="utf-8"))["stories"]
    known |= {_plain(step["user"]) for story in stories for step in story["steps"] if "user" in step}
    buttons = _button_titles()
    said = [*_said(OURS), *REFUSALS.values()]
    leaked = sorted({s for s in said if _plain(s) in known and _plain(s) not in buttons})
    assert not leaked, leaked


@pytest.mark.skipif(not DEVSET.exists(), reason="the external dev set is not on this machine")
def test_no_persona_sentence_is_a_dev_set_sentence_or_a_close_variant() -> None:
    theirs = _said(load_personas(DEVSET))
    buttons = _button_titles()
    their_sentences = {_plain(t) for t in theirs}
    same = sorted({s for s in _said(OURS) if _plain(s) in their_sentences and _plain(s) not in buttons})
    assert not same, same
    # Close variants: sentences of four words or more sharing at least 60 % of their words.
    theirs_words = [(dev, _words(dev)) for dev in theirs]
    close = [
        (ours, dev)
        for ours in _said(OURS)
        if len(mine := _words(ours)) >= 4
        for dev, words in theirs_words
        if len(words) >= 4 and len(mine & words) / len(mine | words) >= 0.6
    ]
    assert not close, close
