"""No intention to buy, said in an answer (crm_core.understanding.says_not_buying): disqualifies, while
researching options for a purchase does not; yes or no however it is said; a need stated with a request for a
quote or a demo (states_need)."""

import pytest

from crm_core.understanding import parse_yes_no, says_not_buying, states_need


@pytest.mark.parametrize(
    "text",
    [
        "honestly there's no purchase planned",
        "we have no plans to buy anything",
        "it's a study for my college, nothing commercial",
        "I need it for my dissertation",
        "no pensamos comprar... bueno, no vamos a comprar nada",
        "es un trabajo para la facultad",
        "lo necesito para mi TFG",
    ],
)
def test_stating_no_intention_to_buy_is_found(text: str) -> None:
    assert says_not_buying(text)


@pytest.mark.parametrize(
    "text",
    [
        "we're researching tools to buy next year",
        "a chatbot for university admissions",
        "a bot for our course booking site",
        "queremos un bot para el colegio de veterinarios",
        "estamos investigando opciones para comprar",
    ],
)
def test_a_buyer_who_researches_or_serves_schools_is_not_disqualified(text: str) -> None:
    assert not says_not_buying(text)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes, drop me a line", True),
        ("sure thing, happy to hear from you", True),
        ("no worries, go ahead", True),
        ("I don't see any problem with that", True),
        ("claro, escribidme cuando queráis", True),
        ("sin problema", True),
        ("nah, I'm good", False),
        ("yes but please don't call me", False),
        ("mejor que no, gracias", False),
        ("no, gracias", False),
        ("you've got my permission", True),
        ("email me when you can", True),
        ("contáis con mi permiso", True),
        ("what would you send me?", None),
        ("depende", None),
    ],
)
def test_yes_or_no_however_it_is_said(text: str, answer: bool | None) -> None:
    assert parse_yes_no(text) is answer


@pytest.mark.parametrize(
    "text",
    [
        "we'd want a price for a bot to take restaurant bookings",
        "could we trial something that answers our tenants after hours?",
        "a demo for the chat that handles enquiries at our language school, please",
        "pásame precio de un asistente que atienda a los pacientes del dentista",
        "quiero una prueba del bot para gestionar las reservas de las casas rurales",
        "cotícenme un chat que capte clientes para la concesionaria",
        "we're after a chat widget for the gym, what are your prices?",
        "buenas, necesitamos un asistente virtual para la óptica, ¿nos hacéis presupuesto?",
    ],
)
def test_a_request_that_says_what_it_is_for_states_the_need(text: str) -> None:
    assert states_need(text)


@pytest.mark.parametrize(
    "text",
    [
        "could your team put together a price for two of our websites?",
        "i'd like to book a demo for thursday",
        "free for booking a call next week?",
        "can someone answer my questions about pricing?",
        "a quote for our company, 50 seats",
        "¿nos hacéis una demostración la semana que viene?",
        "que me llamen mañana para hablar del precio",
        "que me respondan con la cotización por correo",
        "quiero una demo para mi equipo",
        "quiero una demo del chat",
        "we want a quote for a chatbot",
    ],
)
def test_a_bare_request_states_no_need(text: str) -> None:
    assert not states_need(text)
