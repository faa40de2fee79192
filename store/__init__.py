"""The durable record store: members, records, harvest state, runs and quarantine (the source of truth)."""
