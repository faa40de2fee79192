"""Lienhop's edge: the HTTP API, the researcher web pages, the widget and the CLI."""
