"""Readers of reps' own calendars over the network, installed into ``crm_core.scheduling.calendars`` by the
processes that offer meeting slots (the action server and the web app)."""
