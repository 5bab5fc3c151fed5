"""The web app: health check and the demo page (the console and REST API come later)."""
