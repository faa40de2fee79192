"""Pytest fixtures of the session search node."""
