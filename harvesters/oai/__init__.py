"""OAI-PMH 2.0: the pure protocol (:mod:`.protocol`), its errors (:mod:`.errors`) and the async
client (:mod:`.client`).

Nothing is re-exported here on purpose: a parse worker imports :mod:`.protocol` alone, without httpx.
"""
