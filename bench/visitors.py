"""Simulated visitors for `make eval-dialogue`: the persona files' schema, and how a persona answers.

A persona file is a JSON list in the conversation dev set's format (`id`, `lang`, `opening`, optional
`then`, `facts` per question — a list is successive answers to the same question — and `expect`). This
module owns reading and checking those files and choosing the visitor's next message; talking to the bot
and scoring live in `bench/dialogue_eval.py`.
"""

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crm_core.models import Authority, Qualification, Temperature

# The form's slot → the persona's fact key (the dev set calls the authority answer `role`).
FACT_OF_SLOT = {
    "need": "need",
    "budget": "budget",
    "authority": "role",
    "timeline": "timeline",
    "company": "company",
    "company_size": "company_size",
    "person_name": "name",
    "email": "email",
    "phone": "phone",
    "consent": "consent",
}
FactKey = Literal[
    "need", "budget", "role", "timeline", "company", "company_size", "name", "email", "phone", "consent"
]

# What a visitor says to a question their persona has no answer for: our own wording.
REFUSALS = {
    "en": "I'd prefer not to say that, if it's all the same to you",
    "es": "eso prefiero no contarlo, si no te importa",
}


class Expect(BaseModel):
    """What the CRM should hold at the end; every field but the class is optional."""

    model_config = ConfigDict(extra="forbid")

    qualification: Qualification
    temperature: Temperature | None = None
    authority: Authority | None = None
    budget_amount: float | None = Field(default=None, ge=0)  # yearly, in budget_currency
    budget_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    email: str | None = None
    phone: str | None = None
    company_size: int | None = Field(default=None, gt=0)
    timeline_days: tuple[int, int] | None = None  # [min, max]
    name: str | None = None

    @field_validator("timeline_days")
    @classmethod
    def _ordered(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 0 <= value[0] <= value[1]:
            raise ValueError("timeline_days must be [min, max] with 0 <= min <= max")
        return value


class Persona(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    lang: Literal["en", "es"]
    opening: str = Field(min_length=1)
    then: list[str] = []
    facts: dict[FactKey, str | list[str]]
    expect: Expect

    @field_validator("facts")
    @classmethod
    def _no_empty_answers(cls, facts: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for key, answer in facts.items():
            answers = answer if isinstance(answer, list) else [answer]
            if not answers or not all(text.strip() for text in answers):
                raise ValueError(f"facts.{key}: every answer must be non-empty")
        return facts

    def sentences(self) -> list[str]:
        """Everything this visitor may type."""
        said = [self.opening, *self.then]
        for answer in self.facts.values():
            said += answer if isinstance(answer, list) else [answer]
        return said


class PersonaFileError(ValueError):
    """A persona file that cannot be used, with every problem found."""


def load_personas(path: Path) -> list[Persona]:
    """The personas of one JSON file, or of every ``*.json`` file of a folder (sorted by name)."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise PersonaFileError(f"{path}: no persona files (*.json) found")
    personas: list[Persona] = []
    problems: list[str] = []
    for file in files:
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            problems.append(f"{file}: {error}")
            continue
        if not isinstance(raw, list):
            problems.append(f"{file}: expected a JSON list of personas")
            continue
        for index, item in enumerate(raw):
            try:
                personas.append(Persona.model_validate(item))
            except ValidationError as error:
                name = item.get("id", f"#{index}") if isinstance(item, dict) else f"#{index}"
                for detail in error.errors():
                    where = ".".join(str(part) for part in detail["loc"])
                    problems.append(f"{file}: persona {name}: {where}: {detail['msg']}")
    repeated = [pid for pid, count in Counter(p.id for p in personas).items() if count > 1]
    if repeated:
        problems.append(f"{path}: repeated persona ids: {', '.join(sorted(repeated))}")
    if problems:
        raise PersonaFileError("\n".join(problems))
    return personas


def _folded(text: str) -> str:
    """Text compared as a person reads it: no case, accents or punctuation."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", plain))


class Visitor:
    """Answers the bot's questions the way one persona would."""

    def __init__(self, persona: Persona) -> None:
        self.persona = persona
        self.times_asked: Counter[str] = Counter()

    def answer(self, slot: str) -> str:
        """The fact for the question asked: the next of a list each time the question comes back (the last
        one again once the list is used up), or a polite refusal when the persona has no such fact."""
        fact = self.persona.facts.get(FACT_OF_SLOT.get(slot, slot))
        if fact is None:
            return REFUSALS[self.persona.lang]
        answers = fact if isinstance(fact, list) else [fact]
        turn = self.times_asked[slot]
        self.times_asked[slot] += 1
        return answers[min(turn, len(answers) - 1)]

    @staticmethod
    def press(text: str, replies: list[dict[str, Any]]) -> str:
        """The payload of the offered button whose title is what the visitor means to say, else the text."""
        for reply in replies:
            for button in reply.get("buttons") or []:
                if _folded(str(button.get("title", ""))) == _folded(text) and button.get("payload"):
                    return str(button["payload"])
        return text
