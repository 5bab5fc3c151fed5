"""Embudo's CRM core: leads, qualification, reps and routing — importable without Rasa."""
