"""Meetings and tasks in time: the slots a rep can offer, booking and moving meetings, meetings handed on,
reps' own calendars, the visitor's invitations, and reminders of due tasks.

- ``meetings``
- ``meeting_moves``
- ``slots``
- ``calendars``
- ``invitations``
- ``task_reminders``
"""
