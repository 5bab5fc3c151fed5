"""What the failsafe channels say when a turn fails, in every language of the bot (no Rasa imports, so the
tests can read it too)."""

# The socket.io event that tells the widget a person is writing (not a bot_uttered: nothing to show or keep).
PERSON_TYPING_EVT = "embudo_person_typing"
FAILED_TURN = "failed_turn"  # the mark crm_core.transcripts reads (metadata "embudo")
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
