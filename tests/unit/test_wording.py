"""What counts as written like a name, and as typed at random (nlu_components/wording.py, used by the NLU's
NameGuard and fallback)."""

import pytest

from nlu_components.wording import (
    asks_for_ours_by_name,
    asks_for_sales,
    keyboard_mash,
    name_shaped,
    states_bought_elsewhere,
    states_purchase_intent,
    words,
)


@pytest.mark.parametrize(
    "text",
    [
        "Ines Moreau",
        "Hiroshi",
        "Verde Agro SA de CV",
        "Just Eat",
        "Siobhan O'Neill",
        "MORENO & HIJOS",
        "3M España",
    ],
)
def test_names_and_companies_are_name_shaped(text: str) -> None:
    assert name_shaped(text)


@pytest.mark.parametrize(
    "text",
    [
        "Stop asking me things",
        "talk to a human",
        "Are You A Bot?",
        "¿Quién Eres",
        "123 456",
        "",
        "A B C D E F G",
    ],
)
def test_sentences_questions_and_numbers_are_not(text: str) -> None:
    assert not name_shaped(text)


def test_words_are_lower_cased_letters_and_digits() -> None:
    assert words("Ines Moreau-Petit, 2 tiendas!") == {"ines", "moreau", "petit", "2", "tiendas"}


@pytest.mark.parametrize("text", ["asdkjh qwe", "sdfsdfsdf", "jjjjjjj!!", "ok lkjhgf dsfghj"])
def test_keyboard_mash_is_mash(text: str) -> None:
    assert keyboard_mash(text)


@pytest.mark.parametrize(
    "text",
    [
        "hmmm",
        "pfff",
        "we need a CRM for HVAC techs",
        "instrumentos musicales",
        "Brzezinski",
        "ok",
        "¿?",
        "12345",
        "our strengths are sales",
    ],
)
def test_real_wording_is_not_mash(text: str) -> None:
    assert not keyboard_mash(text)


@pytest.mark.parametrize(
    "text",
    [
        "we're looking to purchase a chat assistant for the clinic",
        "ready to sign up today if the price is right",
        "how can we subscribe?",
        "queremos contratar vuestro asistente para la tienda",
        "me interesa adquirirlo, ¿cómo lo contrato?",
        "we want to buy, who do I talk to?",
        "we'd like to purchase two more seats",
        "quisiéramos contratar el plan anual",
        "quiero comprar una, ¿cómo hago?",
    ],
)
def test_an_explicit_wish_to_buy_is_found(text: str) -> None:
    assert states_purchase_intent(text)


@pytest.mark.parametrize(
    "text",
    [
        "just browsing, I'm not looking to buy",
        "we won't be planning to purchase anything this year",
        "no queremos contratar nada por ahora",
        "what does it do?",
        "I'd like to buy a second-hand van",
        "necesito comprar pintura para la oficina",
        "quiero contratar una mudanza para el sábado",
    ],
)
def test_a_negated_or_absent_wish_to_buy_is_not(text: str) -> None:
    assert not states_purchase_intent(text)


@pytest.mark.parametrize(
    "text",
    [
        "we've signed a three-year contract with a rival provider",
        "our company committed to a competitor last spring",
        "the board picked a different platform in March",
        "we purchased a competitor's bot",
        "our agreement with a competing vendor runs until 2029",
        "ya firmamos con otra empresa el mes pasado",
        "hemos renovado el contrato con otro proveedor hasta 2028",
        "elegimos otra herramienta",
        "decidimos irnos con otro proveedor",
    ],
)
def test_a_decision_for_another_vendor_is_bought_elsewhere(text: str) -> None:
    assert states_bought_elsewhere(text)


@pytest.mark.parametrize(
    "text",
    [
        "we might go with another vendor",
        "we're thinking of going with another provider",
        "we didn't sign with anyone else",
        "no hemos firmado con otro proveedor",
        "quizás firmemos con otra empresa",
        "we use a chat tool but it's bad",
        "we signed with another vendor and want to switch",
        "our contract with another provider ends, we're looking for alternatives",
        "queremos cambiar de proveedor, firmamos con otro hace un año",
        "is this integrated with other CRMs?",
        "can I share the chat with other reps?",
    ],
)
def test_a_hypothesis_a_denial_or_leaving_them_is_not(text: str) -> None:
    assert not states_bought_elsewhere(text)


@pytest.mark.parametrize(
    "text",
    [
        "could you send us a quotation?",
        "can we get a demo next week?",
        "how much is it for 12 seats?",
        "what does it cost per month",
        "do you offer a walkthrough for our team?",
        "¿me pasáis una cotización?",
        "¿cuánto cuesta para 5 usuarios?",
        "necesito que me hagan un presupuesto",
        "quiero hablar con un comercial",
        "¿tienen periodo de prueba?",
        "how much do you charge a month?",
        "an estimate for a booking bot, please",
        "¿hacéis presupuestos?",
        "quisiera presupuesto sin compromiso",
        "¿nos enseñáis cómo funciona?",
        "could you show us around the tool on Monday?",
        "¿cuánto nos saldría con dos sedes?",
    ],
)
def test_asking_for_a_quote_a_demo_a_trial_or_our_prices_is_a_sales_ask(text: str) -> None:
    assert asks_for_sales(text)


@pytest.mark.parametrize(
    "text",
    [
        "no quiero una demo",
        "I don't need a demo",
        "how much is a flight to Lima?",
        "¿cuánto cuesta un iPhone?",
        "what's the price of bitcoin",
        "how much time does the setup take?",
        "no tenemos presupuesto",
        "el presupuesto es de 3000 euros",
        "¿tienen API?",
        "a quote for a cleaning service",
        "necesito presupuesto para cambiar las ventanas",
        "quiero ver el partido en directo",
    ],
)
def test_a_refusal_the_price_of_something_else_or_the_visitors_own_budget_is_not(text: str) -> None:
    assert not asks_for_sales(text)


@pytest.mark.parametrize(
    ("text", "names_ours"),
    [
        ("what would 30 seats cost?", False),  # the ask comes after what is priced
        ("what's the cost for 30 seats?", True),
        ("¿cuánto cuesta vuestro plan de empresa?", True),
        ("a demo of your bot for our sales team", True),
        ("how much is a flight to Lima?", False),
        ("can you quote me for home insurance?", False),
        ("¿cuánto sale un curso de cocina?", False),
    ],
)
def test_an_ask_that_names_our_product_outright(text: str, names_ours: bool) -> None:
    assert asks_for_ours_by_name(text) is names_ours
