"""Issue #3 through the real servers: Spanish, channel locale, several answers at once, corrections,
why-do-you-ask, rather-not-say, a human, a returning visitor.

The visitor wording here is not in data/nlu_*.yml (tests/unit/test_bot_data.py checks).
"""

from collections.abc import Iterator

import pytest

from crm_core.models import Authority, Qualification
from tests.harness import Stack, running_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack-es")) as stack:
        yield stack


def say(stack: Stack, sender: str, text: str, metadata: dict[str, str] | None = None) -> str:
    return "\n".join(str(reply.get("text", "")) for reply in stack.say(sender, text, metadata))


def slots(stack: Stack, sender: str) -> dict[str, object]:
    found: dict[str, object] = stack.tracker(sender)["slots"]
    return found


def test_spanish_visitor_with_several_answers_at_once_a_correction_and_a_phone(stack: Stack) -> None:
    sender = "it-es"
    opening = say(stack, sender, "buenas tardes, ¿qué tal?")
    assert "Hola" in opening and "¿Qué estás buscando?" in opening, opening
    assert slots(stack, sender)["language"] == "es"
    reply = say(
        stack,
        sender,
        "soy la directora de Hoteles Brisa, querríamos un asistente para reservas "
        "el mes que viene y tenemos unos 15 mil euros",
    )
    # need, authority, company, timeline and budget in one message: straight to the name
    assert "cómo te llamas" in reply, reply
    found = slots(stack, sender)
    assert (found["authority"], found["company"], found["timeline_days"]) == (
        "decision_maker",
        "Hoteles Brisa",
        30,
    )
    assert (found["budget_amount"], found["budget_currency"]) == ("15000", "EUR")
    assert "correo" in say(stack, sender, "Inés Romero")
    why = say(stack, sender, "¿y eso para qué os hace falta?")
    assert "nunca lo compartimos" in why and "correo" in why, why
    assert "teléfono" in say(stack, sender, "prefiero no dar mi correo")
    assert "contactarte" in say(stack, sender, "mi número es el 622 333 444")
    assert "Gracias, Inés" in say(stack, sender, "/affirm")
    lead = stack.lead(sender)
    assert lead.language == "es" and lead.phone == "+34622333444" and lead.email is None
    assert lead.authority is Authority.DECISION_MAKER


def test_browser_locale_sets_the_language_and_a_human_can_be_requested(stack: Stack) -> None:
    sender = "it-locale"
    assert "¿Qué estás buscando?" in say(stack, sender, "hi", {"locale": "es-MX"})
    reply = say(stack, sender, "quisiera que me escriba alguien de carne y hueso")
    if "¿Quieres hablar con una persona?" in reply:  # the classifier was unsure: the offer, then the button
        reply = say(stack, sender, "/request_human")
    # No rep at all, so nobody can join: nothing is promised before the visitor says how to reach them.
    assert "nadie de nuestro equipo puede unirse al chat" in reply and "cómo te llamas" in reply, reply
    assert "correo" in say(stack, sender, "Gala Ferrán")
    reply = say(stack, sender, "gala.ferran@tintoreria.example")
    assert "te contactará en gala.ferran@tintoreria.example" in reply and "Qué estás buscando" in reply, reply
    lead = stack.lead(sender)
    assert lead.email == "gala.ferran@tintoreria.example" and lead.consent is True


def test_english_visitor_switches_language_skips_a_question_and_comes_back(stack: Stack) -> None:
    sender = "it-switch"
    say(stack, sender, "hello, good evening")
    assert "budget" in say(stack, sender, "a bot to answer our hotel guests").lower()
    skipped = say(stack, sender, "I'd rather not share that")
    assert "skip" in skipped and "role" in skipped, skipped
    assert slots(stack, sender)["budget"] == "unknown"
    switched = say(stack, sender, "could you continue in Spanish please?")
    assert "español" in switched and "papel" in switched, switched
    for text in ["soy el propietario", "en un par de semanas", "Hostal Mar", "Luis Ortega"]:
        say(stack, sender, text)
    say(stack, sender, "luis@hostalmar.example")
    say(stack, sender, "sí")
    assert stack.lead(sender).qualification is Qualification.MQL  # no budget: not sales-ready
    back = say(stack, sender, "hola de nuevo, buenas")
    assert "Luis Ortega" in back and "¿Qué estás buscando?" in back, back


def test_spanish_correction_after_the_lead_was_saved_and_stop(stack: Stack) -> None:
    sender = "it-es-correccion"
    for text in (
        "muy buenas tardes",
        "queremos que el chat de la web conteste a los alumnos y recoja sus datos",
        "rondará los 6.000 euros",
        "soy la gerente y lo firmo yo",
        "para dentro de cuatro meses",
        "Autoescuela Semáforo",
        "Rosa Prieto",
        "prefiero no dar mi correo",
        "mi móvil es el 633 444 555",
    ):
        say(stack, sender, text)
    assert "Gracias, Rosa" in say(stack, sender, "/affirm")
    saved = stack.lead(sender)
    assert saved.phone == "+34633444555"

    reply = say(stack, sender, "perdona, me equivoqué en un número: es el 633 444 556")
    assert "he actualizado tu teléfono (+34633444556)" in reply, reply
    lead = stack.lead(sender)
    assert (lead.id, lead.phone) == (saved.id, "+34633444556")

    other = "it-es-parar"
    assert "presupuesto" in say(stack, other, "hola, buscamos un chat para la clínica veterinaria")
    stopped = say(stack, other, "mejor paramos aquí, gracias")
    assert "No te preguntaré nada más" in stopped, stopped


def test_a_time_for_a_call_before_any_question_starts_the_qualification(stack: Stack) -> None:
    # Escrito como la elección de una hora ofrecida, pero no se ofreció ninguna: piden una llamada.
    sender = "it-es-llamada"
    reply = say(stack, sender, "el jueves sobre las 12 podría hablar con vuestro comercial")
    assert "Te hago unas preguntas rápidas" in reply, reply
    assert "¿Qué estás buscando?" in reply, reply
    assert slots(stack, sender)["requested_slot"] == "need"
