"""What kind of message it is, whatever it answers: a question, or a correction of something said before."""

import re

_CORRECTION = re.compile(
    r"\b(sorry|oops|typo|actually|correction|i meant|my bad|i mistyped|wrong (one|address|number|name)|"
    r"let me correct|not \S+@\S+|perd[oó]n|perdona|disculpa|me equivoqu[eé]|quise decir|en realidad|corrijo|"
    r"correcci[oó]n|mejor dicho|me confund[ií]|estaba mal|no es \S+@\S+)\b",
    re.I,
)


def is_question(text: str) -> bool:
    """Whether a message asks something ("what's the weather?", "¿me ayudas…"): a question is never a name."""
    text = text.strip()
    return text.endswith("?") or text.startswith("¿")


def is_correction(text: str) -> bool:
    """Whether a message corrects something said before ("oops, typo in my address: …", "perdona, me
    equivoqué en el correo: es …", "actually it's Jon"): the value it gives replaces the earlier one."""
    return bool(_CORRECTION.search(text))


# No intention to buy, said in an answer: "no purchase planned", "it's for my thesis", "no vamos a comprar".
# Researching options for a purchase is not this ("we're researching tools for next year" is a cold buyer).
_SCHOOL = r"(university|uni|college|school|class|faculty|universidad|uni|facultad|clase|colegio|instituto)"
_NOT_BUYING = re.compile(
    r"\bno (purchase|buying)( is)? (planned|intended)\b|\bno (plans?|intention) (of|to) (buy|purchas)\w*|"
    r"\bnot (planning|going|looking|intending) to (buy|purchase)\b|"
    r"\b(won'?t|will not) be (buying|purchasing)\b|\bnothing to buy\b|"
    r"\bfor my (thesis|dissertation|essay|homework|coursework|degree|master'?s|phd)\b|"
    rf"\b(research|study|studying|project|assignment|paper)\b.{{0,20}}\bfor (my |the )?{_SCHOOL}\b|"
    r"\bno (voy|vamos|pienso|pensamos|planeo|planeamos) a comprar\b|\bno (busco|buscamos) (comprar|nada)\b|"
    r"\bsin (intenci[oó]n|planes) de compra\b|\bno hay (planes de )?compra\b|\bpara mi (tesis|tfg|tfm)\b|"
    rf"\b(investigaci[oó]n|trabajo|estudio|proyecto)\b.{{0,20}}\bpara (la |el |mi )?{_SCHOOL}\b",
    re.I,
)


def says_not_buying(text: str) -> bool:
    """Whether the visitor states they have no intention to buy ("no purchase planned", "it's for my
    dissertation", "no vamos a comprar nada"): such a lead is disqualified, whatever else it says."""
    return bool(_NOT_BUYING.search(text))


# Yes or no to "may we contact you?", however it is said: the classifier knows the common ways, these words
# catch the rest ("yes, drop me a line", "sure thing", "claro que sí, escribidme", "mejor que no").
_NO = re.compile(
    r"^\W*(no(?!\s+(problem|prob|worries|issue|hay problema))|nope|nah|no thanks?|no thank you|not really|"
    r"rather not|i'?d rather not|please don'?t|don'?t|prefiero que no|mejor que no|no gracias|ni hablar|"
    r"para nada|no,)\b|\b(do not|don'?t) (contact|call|e-?mail|write)|"
    r"\bno (me )?(contact[eé]is|contacten|llam[eé]is|escrib[aá]is|escriban)\b",
    re.I,
)
_YES = re.compile(
    r"^\W*(yes|yeah|yep|yup|ya|sure|ok|okay|fine|of course|certainly|absolutely|definitely|please do|"
    r"go ahead|by all means|why not|sounds good|that'?s fine|that works|works for me|happy to|s[ií]|claro|"
    r"vale|de acuerdo|por supuesto|adelante|perfecto|sale|va|dale|ok[ae]y|bueno|genial|por favor)\b|"
    r"\b(you )?(can|may) (contact|call|e-?mail|write to|reach) me\b|\b(no|not a) problem\b|"
    r"^\W*(please )?(contact|call|e-?mail|write to|reach|ring) me\b|\bgo for it\b|\bpermission\b|"
    r"\b(tienes|ten[eé]is|tienen|cuentas con|cont[aá]is con|cuentan con) (mi )?(permiso|consentimiento)\b|"
    r"\bacepto\b|"
    r"\bno worries\b|\b(don'?t|do not) (have|see) (a|any) problem\b|\b(sin|no hay) problema\b|"
    r"\b(pod[eé]is|pueden|puedes) (contactarme|llamarme|escribirme)\b|\b(escr[ií]bi?d?me|ll[aá]ma?d?me)\b",
    re.I,
)


def parse_yes_no(text: str) -> bool | None:
    """True for a yes, False for a no (a no wins over a yes: "yes, but please don't call"), None when the
    message says neither."""
    if _NO.search(text):
        return False
    return True if _YES.search(text) else None


# Bought elsewhere, said in an answer: "we went with another provider last week", "ya contratamos otro".
# Only a decision already taken counts: "we use a chat tool but it's bad" is a buyer.
_BOUGHT_ELSEWHERE = re.compile(
    r"\b(went|gone|going) with (another|a different|a competing|some other) \w+|"
    r"\b(signed|contracted) (a \w+ (deal|contract) )?with (another|a different|a competing) \w+|"
    r"\b(already|just) (bought|purchased|signed up for|chose|picked) (a|an|another|one|something)\b|"
    r"\b(chose|picked|decided on|settled on) (another|a different|a competing) \w+|"
    r"\bya (hemos )?(contratamos|contratado|compramos|comprado|elegimos|elegido) "
    r"(otr[oa]|un[oa]? de la competencia)\b|"
    r"\b(nos (hemos )?(quedado|quedamos|decidimos|decidido) (con|por)|optamos por|elegimos) otr[oa]\b",
    re.I,
)


def says_bought_elsewhere(text: str) -> bool:
    """Whether the visitor says they already bought from someone else ("we went with another vendor",
    "ya contratamos otra herramienta"): a lead to park for a later check-in."""
    return bool(_BOUGHT_ELSEWHERE.search(text))


# What a request for a quote, a demo or a trial is for, when it says so: "a quote for a booking bot for our
# clinics", "una demo del chat para atender reservas". A use the bot would have — answering, booking,
# qualifying, taking orders; bookings, appointments, patients, guests — right after "for", "to", "that",
# "para", "que" (at most two words between); or the thing wished for. A bare ask ("a price for two of our
# websites", "una demo la semana que viene", "to book a demo", "que me llamen") says no need.
_USE_WORDS = (
    r"(book(s|ings?)?(?!\s+(in\s+)?(a|an|the|some|una?)?\s*(demo|call|meeting|trial|time|slot))|"
    r"reservations?|appointments?|"
    r"enquir(y|ies)|inquir(y|ies)|patients|guests|tenants|customers|orders|customer (service|support|care)|"
    r"(answer|reply|respond|handl|qualif|captur|collect|screen|filter|triag)\w*"
    r"(?!\s+(my|our|a few|some|these)\s+questions)|"
    r"reservas|reservaciones|citas|pacientes|hu[eé]spedes|inquilinos|clientes|pedidos|"
    r"atenci[oó]n al cliente|atend\w*|atiend\w*|respond\w*|contest\w*|gestion\w*|capt[ae]\w*|"
    r"cualifi\w*|califi\w*|filtr\w*|recog\w*|recoj\w*|automatiz\w*)"
)
# Or the thing wished for, said as a need: "we're looking for a chat assistant", "buscamos un chat para …".
_WISHED_THING = (
    r"\b(need|want|looking for|after|searching for|busco|buscamos|necesito|necesitamos|quiero|queremos|"
    r"quisiera|quisi[eé]ramos)\s+(a|an|some|un|una|alg[uú]n)\s+([\w'-]+\s+)?"
    r"(chat\w*|bots?|assistants?|asistentes?|widgets?|tools?|herramientas?|systems?|sistemas?)\b"
)
_STATES_NEED = re.compile(
    rf"\b(for|to|that|which|so|para|que|con el fin de)\s+((?!me\b|you\b|te\b)[\w'-]+\s+){{0,2}}"
    rf"{_USE_WORDS}\b|{_WISHED_THING}",
    re.I,
)


def states_need(text: str) -> bool:
    """Whether a request for a quote, a demo or a trial also says what it is for ("we need a quote for a
    booking bot for our 3 clinics", "queremos una demo del chat para atender reservas de la clínica"):
    then it answers "what do you need it for?" too, and that question is not asked."""
    return bool(_STATES_NEED.search(text))
