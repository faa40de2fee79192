"""Stateless resumption tokens: the list request and a position in it, signed, in the token itself.

Nothing is kept on the server, so a token never expires and survives a restart (or another process
answering): the provider reads the position back and lists from there. The signature only makes a
damaged or hand-made token a clean ``badResumptionToken`` rather than a silently different list; it
protects no secret, so its key is derived from a name that stays the same across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from .errors import BadResumptionToken

_SIGNATURE_CHARS = 16


class TokenCodec:
    """Turns a JSON-able list into a URL-safe token and back, refusing any token it did not make."""

    def __init__(self, name: str) -> None:
        self._key = hashlib.sha256(f"lienhop-oai-token:{name}".encode()).digest()

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()[:_SIGNATURE_CHARS]

    def encode(self, values: list[object]) -> str:
        payload = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._sign(payload)

    def decode(self, token: str) -> list[object]:
        encoded, _, signature = token.rpartition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            payload = b""
        if not encoded or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise BadResumptionToken("the resumptionToken was not issued by this repository")
        values = json.loads(payload)
        if not isinstance(values, list):
            raise BadResumptionToken("the resumptionToken is not a list position")
        return values
