"""Data in and out: CSV import and export of leads (no cell runs as a formula) and outgoing webhooks.

- ``csv_io``
- ``csv_cells``
- ``webhooks``
"""
