"""Rasa custom actions: each module translates between the dialogue and crm_core."""
