"""An OAI-PMH replay server: answers requests with real recorded responses, byte for byte.

Routes come from the shared fixtures (plain XML files, or the request/response pairs of VCR
cassettes). A request matches a route when every parameter of the route equals the request's (a
``None`` value means the parameter must be absent); the most specific match wins.
Identify is answered with a minimal document when no route covers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

_IDENTIFY = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2024-06-03T19:51:07Z</responseDate>
<request verb="Identify">http://replay/oai</request><Identify><repositoryName>Replay</repositoryName>
<baseURL>http://replay/oai</baseURL><protocolVersion>2.0</protocolVersion>
<adminEmail>nobody@example.org</adminEmail><earliestDatestamp>2001-01-01T00:00:00Z</earliestDatestamp>
<deletedRecord>persistent</deletedRecord><granularity>{granularity}</granularity></Identify></OAI-PMH>"""


@dataclass
class Route:
    params: dict[str, str | None]
    body: bytes
    status: int = 200
    content_type: str = "text/xml; charset=UTF-8"
    hits: int = 0


def xml_route(path: Path, **params: str | None) -> Route:
    """A route answering ``params`` with the bytes of a fixture file."""
    return Route(params=dict(params), body=path.read_bytes())


def cassette_routes(path: Path, keep: Iterable[str] | None = None) -> list[Route]:
    """The interactions of a VCR cassette as routes; ``keep`` limits the parameters a request must match."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    routes = []
    wanted = set(keep) if keep is not None else None
    for interaction in data["interactions"]:
        uri = interaction["request"]["uri"]
        params: dict[str, str | None] = dict(parse_qsl(urlsplit(uri).query, keep_blank_values=True))
        if wanted is not None:
            params = {k: v for k, v in params.items() if k in wanted}
        response = interaction["response"]
        body = response["body"].get("string", "")
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        routes.append(Route(params=params, body=raw, status=int(response["status"]["code"])))
    return routes


@dataclass
class ReplayApp:
    """The ASGI app; ``requests`` logs every query received, in order."""

    routes: list[Route]
    granularity: str = "YYYY-MM-DDThh:mm:ssZ"
    requests: list[dict[str, str]] = field(default_factory=list)

    def match(self, query: dict[str, str]) -> Route | None:
        best: Route | None = None
        for route in self.routes:
            matches = all(query.get(k) == v for k, v in route.params.items())
            if matches and (best is None or len(route.params) > len(best.params)):
                best = route
        return best

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        self.requests.append(query)
        route = self.match(query)
        if route is not None:
            route.hits += 1
            status, body, ctype = route.status, route.body, route.content_type
        elif query.get("verb") == "Identify":
            status, body, ctype = 200, _IDENTIFY.format(granularity=self.granularity).encode(), "text/xml"
        else:
            status, body, ctype = 404, b"no recorded response for this request", "text/plain"
        headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
