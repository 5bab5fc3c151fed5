"""A lead's sales side: capture and lists, its lifecycle (class, stage, owner, clock), the pipeline and its
deals, the board, activities and tasks, its record, one contact per person, and captures the database could
not take yet.

- ``leads``
- ``lifecycle``
- ``pipeline``
- ``deals``
- ``board``
- ``activities``
- ``timeline``
- ``dedup``
- ``pending_captures``
- ``pipeline.yml``
"""
