"""What the failsafe channels say when a turn fails, in every language of the bot (no Rasa imports, so the
tests can read it too)."""

# The socket.io event that tells the widget a person is writing (not a bot_uttered: nothing to show or keep).
PERSON_TYPING_EVT = "embudo_person_typing"
FAILED_TURN = "failed_turn"  # the mark crm_core.chats.transcripts reads (metadata "embudo")
# Responses our actions give when crm_core could not store something (the CRM is down).
CRM_FAILURE_RESPONSES = frozenset({"utter_lead_not_saved"})

OFFER = {
    "en": "Sorry, something went wrong on our side and I can't go on right now. A person from our team "
    "can take it from here: leave your e-mail or phone number and we'll get back to you.",
    "es": "Perdona, algo ha fallado por nuestra parte y ahora mismo no puedo seguir. Una persona de nuestro "
    "equipo puede continuar: déjanos tu e-mail o tu teléfono y te responderemos.",
}
# Said instead when the previous reply was already the offer: the visitor is not asked twice.
KEPT = {
    "en": "Thank you. Your messages are kept, and a person from our team will read them and get back to you.",
    "es": "Gracias. Tus mensajes quedan guardados y una persona de nuestro equipo los leerá y te responderá.",
}

# What a visitor is told when a channel refuses their message before the bot sees it (rasa_channels/guard.py).
REFUSALS = {
    "bad_request": {
        "en": "Sorry, I couldn't read that message. Could you type it again in plain words?",
        "es": "Perdona, no he podido leer ese mensaje. ¿Puedes escribirlo de nuevo con palabras sencillas?",
    },
    "other_channel": {
        "en": "Sorry, this chat can't continue here. Please reload the page to start a new chat.",
        "es": "Perdona, este chat no puede continuar aquí. Vuelve a cargar la página para empezar uno nuevo.",
    },
    "too_long": {
        "en": "That message is too long for me. Could you say it in a few shorter messages?",
        "es": "Ese mensaje es demasiado largo para mí. ¿Puedes decírmelo en varios mensajes más cortos?",
    },
    "too_fast": {
        "en": "You're writing faster than I can read. Please wait a minute, then carry on.",
        "es": "Escribes más rápido de lo que puedo leer. Espera un minuto y luego sigue, por favor.",
    },
}
