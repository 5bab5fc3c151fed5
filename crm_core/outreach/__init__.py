"""Messages to contacts: win-back and MQL nurture (what came due), their texts, and their outbox.

- ``winback``
- ``outreach_outbox``
- ``outreach_texts``
- ``outreach.yml``
"""
