"""Embudo's CRM core: leads, qualification, reps and routing — importable without Rasa.

Grouped by what each part is about. At the root, the base the packages build on: ``config``, ``db``,
``errors``, ``limits``, ``models``, ``schemas``, ``periods``, ``money``, ``understanding``, ``migrations``.
The packages: ``sales``, ``qualification``, ``people``, ``assignment``, ``chats``, ``scheduling``,
``reporting``, ``learning``, ``outreach``, ``exchange``, ``delivery``.
"""
