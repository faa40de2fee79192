"""Harvesting: the hardened XML parser, the async OAI-PMH client, Dublin Core parsing and the runner."""
