"""Adapters around crm_core: the command line, the web app, and (later) the channels."""
