"""Reading and checking an OAI-PMH request's arguments, the same for every provider Lienhop runs.

``check_arguments`` enforces the verb table of OAI-PMH 2.0 section 4 (required, optional and exclusive
arguments, no repetition); ``list_query`` reads the selective-harvesting arguments of ``ListRecords``
and ``ListIdentifiers`` (``from``/``until`` at day or seconds granularity, the same for both).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from urllib.parse import parse_qsl

from fastapi import Request

from .errors import BadArgument, BadVerb, CannotDisseminateFormat

# Which arguments each verb takes: (required, optional, exclusive).
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
    "ListIdentifiers": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
    "ListRecords": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), "resumptionToken"),
}
MAX_VALUE = 2000  # characters of one argument; identifiers and tokens are far shorter
MAX_BODY = 64 * 1024  # bytes of a POSTed request
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def stamp(value: datetime) -> str:
    """A UTC datestamp at seconds granularity."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def read_pairs(request: Request) -> list[tuple[str, str]]:
    """The request's arguments: the query string of a GET, the form body of a POST (OAI-PMH 3.1.1)."""
    if request.method != "POST":
        return parse_qsl(request.url.query, keep_blank_values=True)
    body = b""
    async for chunk in request.stream():  # read no further than the cap
        body += chunk
        if len(body) > MAX_BODY:
            raise BadArgument(f"the request body is larger than {MAX_BODY} bytes")
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def check_arguments(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The arguments as a dict, or the error OAI-PMH prescribes for a malformed request."""
    args: dict[str, str] = {}
    for key, value in pairs:
        if key in args:
            if key == "verb":
                raise BadVerb("argument 'verb' is repeated")
            raise BadArgument(f"argument {key!r} is repeated")
        args[key] = value
    verb = args.get("verb")
    if verb not in VERBS:
        raise BadVerb("no verb given" if not verb else f"{verb!r} is not an OAI-PMH verb")
    required, optional, exclusive = VERBS[verb]
    given = set(args) - {"verb"}
    allowed = required | optional | ({exclusive} if exclusive else set())
    if unknown := sorted(given - allowed):
        raise BadArgument(f"{verb} does not take {', '.join(unknown)}")
    if exclusive and exclusive in given:
        if given != {exclusive}:
            raise BadArgument(f"{exclusive} is an exclusive argument")
    elif missing := sorted(required - given):
        raise BadArgument(f"{verb} needs {', '.join(missing)}")
    for key in given:
        if not args[key]:
            raise BadArgument(f"argument {key!r} is empty")
        if len(args[key]) > MAX_VALUE:
            raise BadArgument(f"argument {key!r} is longer than {MAX_VALUE} characters")
    return args


@dataclass(frozen=True)
class ListQuery:
    """What a ``ListRecords``/``ListIdentifiers`` request selects (kept whole in its resumption tokens)."""

    verb: str
    prefix: str
    start: datetime | None = None
    end: datetime | None = None  # inclusive, to the last microsecond of its second or day
    set_spec: str | None = None

    def to_json(self) -> list[object]:
        return [
            self.verb,
            self.prefix,
            stamp(self.start) if self.start else None,
            self.end.isoformat() if self.end else None,
            self.set_spec,
        ]

    @classmethod
    def from_json(cls, values: object) -> ListQuery:
        """The query a token carried; ``ValueError``/``TypeError`` when it is not one."""
        if not isinstance(values, list):
            raise TypeError("not a list request")
        verb, prefix, start, end, set_spec = values
        if not isinstance(verb, str) or not isinstance(prefix, str):
            raise ValueError("not a list request")
        if set_spec is not None and not isinstance(set_spec, str):
            raise ValueError("bad set")
        return cls(
            verb,
            prefix,
            datetime.fromisoformat(start) if isinstance(start, str) else None,
            datetime.fromisoformat(end) if isinstance(end, str) else None,
            set_spec,
        )


def check_prefix(prefix: str, offered: Collection[str]) -> str:
    if prefix not in offered:
        raise CannotDisseminateFormat(f"{prefix!r} is not offered; try {' or '.join(sorted(offered))}")
    return prefix


def list_query(args: dict[str, str], offered: Collection[str]) -> ListQuery:
    """The selection of a first ``ListRecords``/``ListIdentifiers`` request, checked."""
    prefix = check_prefix(args["metadataPrefix"], offered)
    start = parse_datestamp(args.get("from"), "from", end_of_day=False)
    end = parse_datestamp(args.get("until"), "until", end_of_day=True)
    if start and end:
        if bool(_DAY.match(args["from"])) != bool(_DAY.match(args["until"])):
            raise BadArgument("from and until must have the same granularity")
        if start > end:
            raise BadArgument("from is later than until")
    return ListQuery(args["verb"], prefix, start, end, args.get("set"))


def parse_datestamp(value: str | None, name: str, end_of_day: bool) -> datetime | None:
    """A ``from``/``until`` value; ``until`` covers the whole of its second or day."""
    if value is None:
        return None
    try:
        if _SECOND.match(value):
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            return moment.replace(microsecond=999999) if end_of_day else moment
        if _DAY.match(value):
            day = datetime.strptime(value, "%Y-%m-%d").date()
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
    except ValueError:
        pass
    raise BadArgument(f"{name}={value!r} is not a UTC datestamp (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)")
