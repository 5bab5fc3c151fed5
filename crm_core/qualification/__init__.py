"""The qualification policy: the versioned YAML rules and the pure function that applies them, the versions
admins save, and the changes suggested from closed leads' outcomes.

- ``policy``
- ``policy_store``
- ``policy_suggestions``
- ``qualification_policy.yml``
"""
