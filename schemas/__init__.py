"""Pydantic models and types shared by every Lienhop package (the leaf of the import graph)."""
