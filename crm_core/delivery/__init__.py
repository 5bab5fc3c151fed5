"""Telling reps: the notifications outbox, and the retry schedule every outbox shares.

- ``outbox``
- ``notifications``
"""
