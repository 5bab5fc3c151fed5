"""Conversations with visitors: one per Rasa sender id, who owns a live one (bot, waiting, rep), their
transcripts and the admins' search over them.

- ``conversations``
- ``ownership``
- ``transcripts``
- ``transcript_search``
"""
