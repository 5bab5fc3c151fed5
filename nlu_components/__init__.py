"""Custom Rasa NLU components (loaded by the Rasa server from the project directory)."""
