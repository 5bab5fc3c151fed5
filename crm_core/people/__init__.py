"""The people the CRM knows: reps and their working hours and territories, console users and the brake on
repeated logins, and erasing a contact on request (privacy).

- ``reps``
- ``users``
- ``login_brake``
- ``territories``
- ``working_hours``
- ``privacy``
- ``places.yml``
"""
