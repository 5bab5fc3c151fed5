"""Who takes a lead or a chat: routing's pick, the SLA clocks that move unaccepted leads on, and a visitor's
request for a person.

- ``routing``
- ``sla``
- ``live_request``
"""
