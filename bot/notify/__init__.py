"""The notifier: delivers rep notifications from crm_core's outbox, and keeps the acceptance SLA."""
