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
