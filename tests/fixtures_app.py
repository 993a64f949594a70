"""Fixtures that start the real app server and a headless browser (filled in with the web app)."""
