"""Plain functions about a message's wording, shared by the NLU components (no Rasa imports: unit-tested
in the app environment)."""

import re

# Lower-case words that stay lower-case inside names: "Verde Agro SA de CV", "Ludwig van Beethoven".
NAME_PARTICLES = frozenset(
    [
        "de",
        "del",
        "la",
        "las",
        "los",
        "y",
        "e",
        "da",
        "di",
        "do",
        "dos",
        "du",
        "van",
        "von",
        "der",
        "den",
        "le",
        "et",
        "of",
        "and",
        "the",
        "el",
        "al",
        "bin",
        "ibn",
        "&",
    ]
)
MAX_NAME_WORDS = 6


def words(text: str) -> set[str]:
    """The lower-cased words of ``text`` ("Ines Moreau-Petit!" → {"ines", "moreau", "petit"})."""
    return set(re.findall(r"[^\W_]+", text.lower()))


def name_shaped(text: str) -> bool:
    """Whether ``text`` is written like a name: a few capitalised words ("Blue Harbor Ltd", "Hiroshi",
    "Verde Agro SA de CV"), no question. People type sentences in lower case after the first word."""
    if "?" in text or "¿" in text:
        return False
    tokens = text.split()
    if not 1 <= len(tokens) <= MAX_NAME_WORDS:
        return False
    lettered = [token for token in tokens if any(character.isalpha() for character in token)]
    if not lettered:
        return False
    return all(_first_letter(token).isupper() or token.lower() in NAME_PARTICLES for token in lettered)


def _first_letter(token: str) -> str:
    return next(character for character in token if character.isalpha())


# Five consonants in a row: "asdkjh", "sdfsdf", "jjjjjj". Written English and Spanish words almost never
# have them ("strengths" is the rare exception); keyboard mashing almost always does.
_MASHED = re.compile(r"[b-df-hj-np-tv-xz]{5}")


def keyboard_mash(text: str) -> bool:
    """Whether most of ``text`` is typed at random ("asdkjh qwe", "jjjjjj"): over half of its letters are
    in plain-ASCII words with five consonants in a row. Names ("Brzezinski") are never mash."""
    if name_shaped(text):
        return False
    tokens = re.findall(r"[^\W\d_]+", text)
    letters = sum(len(token) for token in tokens)
    mashed = sum(len(token) for token in tokens if token.isascii() and _MASHED.search(token.lower()))
    return letters > 0 and mashed * 2 > letters


# An explicit wish to buy: "looking to purchase a bot", "we're ready to sign up", "quiero comprar uno",
# "queremos contratarlo". Whatever else the message says, such a visitor is a buyer, not "just asking".
_PURCHASE = re.compile(
    r"\b(want|wanna|looking|ready|planning|keen|need|would like|'d like|like|hoping|intend|going|here|trying)"
    r" to (buy|purchase|order|sign up|subscribe|license|get started with)\b|"
    r"\bhow (do|can|could) (i|we) (buy|purchase|sign up|subscribe|order)\b|"
    r"\b(quiero|queremos|quisiera|quisi[eé]ramos|me gustar[ií]a|nos gustar[ií]a|busco|buscamos|vamos a|"
    r"pensamos|necesito|necesitamos|nos interesa|me interesa|estamos listos para|deseo|deseamos)"
    r" (comprar|contratar|adquirir|suscribir|dar(nos|me)? de alta)\w*\b|"
    r"\b(c[oó]mo) (lo |la )?(compro|contrato|compramos|contratamos|adquiero|adquirimos)\b",
    re.I,
)
_NEGATED = re.compile(r"\b(no|not|don'?t|never|nunca|won'?t|\w+n't|ni)\b(\W+\w+){0,3}\W*$", re.I)


# What is bought, when it is said: something of ours ("it", "a bot", "more seats", "vuestro asistente",
# "contratarlo") or nothing ("we want to buy, who do I talk to?"). "To buy a bike" is shopping elsewhere.
_OURS = re.compile(
    r"^(\W|$)|^(today|now|soon|from|with|asap|right away|hoy|ya|ahora|con)\b|"
    r"^(it|this|that|them|one|esto|eso)\b|^(uno|una)([^\w\s]|$|\s+(para|de|con|ya|hoy)\b)|"
    r"\b(yours?|embudo|bots?|chat\w*|assistants?|crm|software|tools?|platform|plans?|licen[cs]es?|seats?|"
    r"subscriptions?|products?|services?|solutions?|systems?|widgets?|accounts?|users?|vuestr[oa]s?|"
    r"asistentes?|herramientas?|servicios?|sistemas?|plataformas?|productos?|soluci[oó]n|soluciones|"
    r"licencias?|planes|plan|cuentas?|programas?|usuarios?|suscripci[oó]n|suscripciones)\b",
    re.I,
)


def states_purchase_intent(text: str) -> bool:
    """Whether the visitor says plainly they want to buy from us ("looking to purchase a bot…", "quiero
    contratarlo"), and not that they don't ("I'm not looking to buy", "no quiero comprar nada") or that they
    shop for something else ("I want to buy a bike", "quiero comprar zapatillas")."""
    return any(
        not _NEGATED.search(text[: match.start()]) and _buys_ours(match, text)
        for match in _PURCHASE.finditer(text)
    )


def _buys_ours(match: re.Match[str], text: str) -> bool:
    if re.search(r"[aei]r(lo|la|los|las)$", match.group(0), re.I):
        return True  # "contratarlo", "adquirirla": the thing talked about
    following = " ".join(text[match.end() :].split()[:4])
    return bool(_OURS.search(following))


# A decision already taken for someone else: "we've signed a three-year contract with a rival provider",
# "our company committed to a competitor last spring", "ya firmamos con otra empresa". Talking of others
# without a decision ("we might go with another vendor", "we use a chat tool but it's bad") is a buyer.
_OTHER_PARTY = (
    r"(another|a different|a competing|some other|other|a rival|a competitor|one of your competitors|"
    r"your competitors?|someone else|somebody else)"
)
_OTRA_PARTE = r"(otr[oa]s?|la competencia|un competidor|una competidora|alguien m[aá]s|un rival)"
_DECIDED_ELSEWHERE = re.compile(
    r"\b(signed|contracted|committed|locked|tied|partnered|chose|picked|bought|purchased|settled|decided|"
    r"opted|renewed|subscribed|went|gone|switched|moved|already (work|working|are working|have a contract))"
    rf"\b(\W+[\w'-]+){{0,5}}?\W+(with|from|to|for|on|into)\s+{_OTHER_PARTY}\b|"
    rf"\b(contract|deal|agreement|subscription|commitment)\b(\W+[\w'-]+){{0,3}}?\W+with\s+{_OTHER_PARTY}\b|"
    r"\b(chose|picked|selected|bought|purchased|licensed|went for|opted for|settled on|decided on)\s+"
    r"(another|a different|a competing|a rival|a competitor's|one of your competitors)\b|"
    r"\b(elegimos|escogimos|seleccionamos|compramos|optamos por|nos decidimos por|nos quedamos con)\s+"
    r"(otr[oa]|la de la competencia|el de la competencia|uno de la competencia)\b|"
    r"\b(firmamos|firmado|contratamos|contratado|compramos|comprado|elegimos|elegido|optamos|decidimos|"
    r"decidido|renovamos|renovado|quedamos|quedado|cerramos|cerrado|comprometimos|comprometido|"
    r"trabajamos ya|ya trabajamos)"
    rf"\b(\W+[\w'-]+){{0,5}}?\W+(con|a|por|de)\s+{_OTRA_PARTE}\b|"
    rf"\b(contrato|acuerdo|suscripci[oó]n|compromiso)\b(\W+[\w'-]+){{0,3}}?\W+con\s+{_OTRA_PARTE}\b",
    re.I,
)
# Said before the decision, these make it a hypothesis or a denial: "we might go with…", "no firmamos…".
_HEDGED = re.compile(
    r"\b(no|not|never|nunca|ni|might|may|could|would|should|maybe|perhaps|if|whether|considering|thinking|"
    r"planning|about to|tal vez|quiz[aá]s?|igual|si|podr[ií]amos|pensamos|pensando|estamos viendo|"
    r"\w+n't)\b(\W+[\w'-]+){0,3}\W*$",
    re.I,
)
# Leaving the other vendor is a reason to buy: "we signed with another vendor and want out", "cambiar".
_LEAVING = re.compile(
    r"\b(switch\w*|replac\w*|alternatives?|mov(e|ing) away|leav(e|ing)|unhappy|cancel\w*|want out|"
    r"cambiar|cambio|alternativas?|reemplaz\w*|sustitu\w*|migrar|dejar(lo|la)?|descontent\w*)\b",
    re.I,
)


def states_bought_elsewhere(text: str) -> bool:
    """Whether the visitor says they already bought or signed with someone else ("we signed a two-year
    contract with another provider"), and not that they might, didn't, or want to leave them."""
    if _LEAVING.search(text) or states_purchase_intent(text):
        return False
    return any(not _HEDGED.search(text[: match.start()]) for match in _DECIDED_ELSEWHERE.finditer(text))


# Asking for what a sales team gives — a quote, a demo, a trial, the prices of ours — is a sales request:
# "could you send us a quotation?", "¿me pasáis una cotización?", "how much is it for 12 seats?".
# "Presupuesto" is also the visitor's own budget ("no tenemos presupuesto"): only asked-for counts.
_SALES_ASK = re.compile(
    r"\b(quotes?|quotation|(price |cost )?estimates?|demos?|demonstration|walk-?through|(free )?trial|"
    r"sales (team|rep|person|people|call)|pricing|price list|"
    r"cotizaci[oó]n|cotizar\w*|cotizen|demostraci[oó]n|prueba gratu?i\w*|periodo de prueba|"
    r"equipo (comercial|de ventas)|(un|una|el|vuestro|su) (comercial|vendedor\w*)|lista de precios|"
    r"(pasar|pasen|pas[aá]is|pases|pasas|pasan|mandar|manden|mand[aá]is|mandas|mandan|enviar|env[ií]en|enviad|"
    r"env[ií]as|env[ií]an|pedir|pido|solicitar|solicito|preparar|hacer|hagan|hac[eé]is|hacen|haces|dar|den|"
    r"necesito|necesitamos|quiero|queremos|quisiera|querr[ií]a|querr[ií]amos) (\w+ )?(un |el |vuestro |su )?"
    r"presupuestos?|presupuestos? sin compromiso|"
    r"propuesta (econ[oó]mica|comercial|con (precios|costes|costos))|"
    # being shown the product: "could you show us how it works?", "¿me enseñáis cómo funciona?"
    r"(show|enseñ\w+|muestr\w+|mostrar\w*) ((me|us|nos) )?(how it works|around|the (product|tool)|"
    r"c[oó]mo funciona|la herramienta|el producto)|walk (me|us) through|"
    r"(see|ver) (it|the product|el producto|la herramienta|el bot|el chat) "
    r"(live|in action|en vivo|en directo))\b",
    re.I,
)
_PRICE_ASK = re.compile(
    r"\b(how much(?! (time|data|space|memory|storage|traffic|effort|work|ram|longer|more|of)\b)|"
    r"what (does|do|would|will) (it|this|that|they|\w+) cost|prices?|costs?|"
    r"cu[aá]nto (me |nos |te )?(cuesta|cuestan|vale|valen|sale|salen|cobr[aá]is|cobran|cobras|costar[ií]an?|"
    r"saldr[ií]an?|cobrar[ií]ais|cobrar[ií]an|cobrar[ií]as)|"
    r"precios?|tarifas?|coste|costo)\b",
    re.I,
)
# What is priced or asked for, when said after the ask: "a quote for car insurance", "how much is a Tesla",
# "una demo de un videojuego" are someone else's; "for 5 seats", "for our team", "del plan anual" are ours.
_SOMEONE_ELSES = re.compile(
    r"^(((of|for|on|is|are|does|do|would|will|should|de|del|para|por|en|es|son)\s+)"
    r"(a |an |the |my |un |una |el |la |los |las |mi )?|a |an |the |my |un |una |el |la |los |las |mi )"
    r"(?!(it|this|that|them|one|embudo|bots?|chat\w*|assistants?|crm|software|tools?|platform|plans?|"
    r"licen[cs]es?|seats?|subscriptions?|products?|services?|solutions?|systems?|widgets?|accounts?|users?|"
    r"asistentes?|herramientas?|servicios?|sistemas?|plataformas?|productos?|soluci[oó]n|soluciones|"
    r"licencias?|planes|plan|cuentas?|programas?|usuarios?|suscripci[oó]n|equipo|empresa|team|company|"
    r"month|year|mes|año|vuestr\w+|your|yours|you|our|ours|us|me|nos|nuestr\w+|su|sus|\d+)\b)[^\W\d_]+",
    re.I,
)
# Our product named outright after an ask: "the price for 25 seats", "a demo of your bot", "vuestro plan".
_NAMES_OURS = re.compile(
    r"\b(embudo|your|yours|vuestr[oa]s?|bots?|chatbots?|seats?|licen[cs]es?|licencias?|users?|usuarios?|"
    r"plans?|planes|tiers?)\b",
    re.I,
)


def asks_for_sales(text: str) -> bool:
    """Whether the visitor asks for a quote, a demo, a trial or our prices ("can we get a demo next
    week?", "¿cuánto cuesta para 5 usuarios?"), not that they don't want one ("no quiero una demo") nor the
    price of something else ("how much is a flight to Lima?")."""
    asks = _asks(text)
    return bool(asks) and all(
        not _NEGATED.search(text[: match.start()]) and not _someone_elses(_following(text, match))
        for match in asks
    )


def asks_for_ours_by_name(text: str) -> bool:
    """Whether a sales ask (`asks_for_sales`) names our product outright ("what's the price for 25 seats?",
    "¿cuánto cuesta vuestro plan?"): such an ask is ours even where the classifier took it for off-topic."""
    return asks_for_sales(text) and any(_NAMES_OURS.search(_following(text, match)) for match in _asks(text))


def _asks(text: str) -> list[re.Match[str]]:
    return [match for pattern in (_SALES_ASK, _PRICE_ASK) for match in pattern.finditer(text)]


def _following(text: str, match: re.Match[str]) -> str:
    return " ".join(text[match.end() :].split()[:4])


def _someone_elses(following: str) -> bool:
    # "a quote for car insurance" is someone else's; "a quote for a booking bot" names ours after a word.
    return bool(_SOMEONE_ELSES.match(following)) and not _NAMES_OURS.search(following)
