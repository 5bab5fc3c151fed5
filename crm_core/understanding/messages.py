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
