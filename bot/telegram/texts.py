"""The few things the gateway says itself, before or around the dialogue (Rasa says the rest)."""

TEXTS: dict[str, dict[str, str]] = {
    "help": {
        "en": "I'm Embudo's assistant: just write to me and I'll help you find the right solution.\n"
        "/language – switch language\n/cancel – stop the current questions\n/help – this message",
        "es": "Soy el asistente de Embudo: escríbeme y te ayudo a encontrar la solución adecuada.\n"
        "/language – cambiar de idioma\n/cancel – dejar las preguntas actuales\n/help – este mensaje",
    },
    "choose_language": {"en": "Which language do you prefer?", "es": "¿Qué idioma prefieres?"},
    "unavailable": {
        "en": "Sorry, I can't answer right now. Please try again in a minute.",
        "es": "Lo siento, ahora mismo no puedo responder. Inténtalo de nuevo en un minuto.",
    },
    "edited": {
        "en": "I saw you edited an earlier message, but I don't read edits: if something changed, please "
        'send it again as a new message (for example "my budget is 30k").',
        "es": "He visto que editaste un mensaje anterior, pero no leo las ediciones: si algo cambió, "
        'envíalo de nuevo como un mensaje nuevo (por ejemplo "mi presupuesto es de 30k").',
    },
    "media": {
        "en": "Thanks! I can only read text, though: could you write your answer as a message?",
        "es": "¡Gracias! Solo puedo leer texto: ¿puedes escribir tu respuesta como un mensaje?",
    },
}
LANGUAGES = {"en": "English", "es": "Español"}


def text(key: str, language_code: str | None) -> str:
    """The text in the user's language when we have it, else English."""
    language = (language_code or "en").split("-")[0].lower()
    variants = TEXTS[key]
    return variants.get(language, variants["en"])
