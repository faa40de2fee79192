"""The demo consortium: its members, a deterministic record generator and an OAI-PMH provider."""
