"""The pure side of OAI-PMH 2.0: request parameters, responses read into pages, resumption tokens,
datestamps and their granularity. No I/O, so all of it can run in a parse worker.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from lxml import etree

from ..xml import LOCAL_NAMES, local_name, parse_xml, tag_local_name
from .errors import InvalidDatestamp, MalformedPage, NotAListVerb, oai_error

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ListVerb = Literal["ListRecords", "ListIdentifiers", "ListSets"]
LIST_VERBS: tuple[ListVerb, ...] = ("ListRecords", "ListIdentifiers", "ListSets")
_ITEM_NAMES = {"ListRecords": "record", "ListIdentifiers": "header", "ListSets": "set"}


# ------------------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class RepositoryInfo:
    """What Identify says about a repository."""

    name: str | None
    base_url: str | None
    protocol_version: str | None
    granularity: str
    earliest_datestamp: str | None
    deleted_record: str | None
    admin_emails: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> bool:
        """Whether the repository takes ``from``/``until`` with seconds (else days only)."""
        return "T" in self.granularity

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base_url": self.base_url,
            "protocol_version": self.protocol_version,
            "granularity": self.granularity,
            "earliest_datestamp": self.earliest_datestamp,
            "deleted_record": self.deleted_record,
            "admin_emails": self.admin_emails,
        }


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str | None
    namespace: str | None


@dataclass(frozen=True)
class SetInfo:
    spec: str
    name: str | None


@dataclass(frozen=True)
class Header:
    """An OAI ``<header>``: identifier, datestamp (UTC), deletion status and set specs."""

    identifier: str
    datestamp: datetime | None
    deleted: bool
    sets: tuple[str, ...] = ()


@dataclass
class Page:
    """One response of a list verb: its items, the next token and what the token says."""

    verb: str
    items: list[etree._Element]
    token: str | None
    complete_list_size: int | None = None
    cursor: int | None = None
    cleaned: bool = False
    nbytes: int = 0


@dataclass
class Response:
    verb: str
    root: etree._Element
    body: etree._Element | None
    cleaned: bool
    nbytes: int


# ----------------------------------------------------------------------------------- datestamps


_SPACE_SEPARATED = re.compile(r"^\d{4}-\d\d-\d\d \d")


def parse_datestamp(value: str | None) -> datetime | None:
    """An OAI datestamp (``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ssZ``, offsets tolerated) as UTC.

    Raises :class:`~harvesters.oai.errors.InvalidDatestamp`.
    """
    if value is None:
        return None
    text = value.strip()
    if len(text) == 20 and text[10] == "T" and text[19] == "Z":
        # the usual ``YYYY-MM-DDThh:mm:ssZ``, once per harvested record: straight to UTC
        try:
            parsed = datetime.fromisoformat(text[:19])
        except ValueError as exc:
            raise InvalidDatestamp(f"invalid datestamp {value!r}") from exc
        if parsed.tzinfo is not None:  # "...T00+05:00Z": two zones
            raise InvalidDatestamp(f"invalid datestamp {value!r}")
        return parsed.replace(tzinfo=UTC)
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = text.replace(" ", "T", 1) if _SPACE_SEPARATED.match(text) else text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidDatestamp(f"invalid datestamp {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datestamp(value: datetime, granularity: str = "YYYY-MM-DDThh:mm:ssZ") -> str:
    """``value`` at the repository's granularity, as ``from``/``until`` need it."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if "T" in granularity:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.strftime("%Y-%m-%d")


def other_granularity(granularity_or_stamp: str) -> str:
    """The OAI granularity that ``granularity_or_stamp`` (a granularity or a datestamp) is not."""
    return "YYYY-MM-DD" if "T" in granularity_or_stamp else "YYYY-MM-DDThh:mm:ssZ"


# ------------------------------------------------------------------------------------ requests


def oai_query(verb: str, params: Mapping[str, str | None]) -> dict[str, str]:
    """The query string of a request: ``verb`` and the arguments that are set."""
    return {"verb": verb, **{k: v for k, v in params.items() if v is not None}}


def list_params(
    verb: ListVerb,
    metadata_prefix: str | None = None,
    set_spec: str | None = None,
    from_: str | None = None,
    until: str | None = None,
    token: str | None = None,
) -> dict[str, str | None]:
    """The query of a list verb: the resumptionToken alone, or the selective-harvest arguments."""
    if verb not in LIST_VERBS:
        raise NotAListVerb(f"{verb} is not a list verb")
    if token is not None:
        return {"resumptionToken": token}
    if verb == "ListSets":
        return {}
    return {"metadataPrefix": metadata_prefix, "set": set_spec, "from": from_, "until": until}


# ----------------------------------------------------------------------------------- responses


def read_response(verb: str, data: bytes) -> Response:
    """A fetched body parsed safely and interpreted: what :meth:`OAIClient.request` does after the fetch.

    Raises :class:`~schemas.errors.UnsafeXML`, :class:`~harvesters.xml.MalformedXML`,
    :class:`MalformedPage` (not an OAI-PMH response) or the OAI error answered.
    """
    parsed = parse_xml(data)
    return _interpret(verb, parsed.root, parsed.cleaned, len(data))


def _interpret(verb: str, root: etree._Element, cleaned: bool, nbytes: int) -> Response:
    if local_name(root) != "OAI-PMH":
        raise MalformedPage(
            f"not an OAI-PMH response (root element <{local_name(root)}>)", etree.tostring(root)
        )
    body = None
    errors: list[etree._Element] = []
    for child in root:
        name = local_name(child)
        if name == "error":
            errors.append(child)
        elif name == verb:
            body = child
    if errors:
        first = errors[0]
        raise oai_error(first.get("code", ""), (first.text or "").strip())
    return Response(verb=verb, root=root, body=body, cleaned=cleaned, nbytes=nbytes)


def repository_info(resp: Response) -> RepositoryInfo:
    """An Identify response read."""
    values: dict[str, list[str]] = {}
    if resp.body is not None:
        for child in resp.body:
            values.setdefault(local_name(child), []).append((child.text or "").strip())

    def one(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    return RepositoryInfo(
        name=one("repositoryName"),
        base_url=one("baseURL"),
        protocol_version=one("protocolVersion"),
        granularity=one("granularity") or "YYYY-MM-DD",
        earliest_datestamp=one("earliestDatestamp"),
        deleted_record=one("deletedRecord"),
        admin_emails=values.get("adminEmail", []),
    )


def metadata_formats(resp: Response) -> list[MetadataFormat]:
    """A ListMetadataFormats response read."""
    formats = []
    for item in children(resp.body, "metadataFormat"):
        fields = _fields(item)
        formats.append(
            MetadataFormat(
                prefix=fields.get("metadataPrefix", ""),
                schema=fields.get("schema"),
                namespace=fields.get("metadataNamespace"),
            )
        )
    return formats


def set_info(item: etree._Element) -> SetInfo:
    """One ``<set>`` of ListSets."""
    fields = _fields(item)
    return SetInfo(spec=fields.get("setSpec", ""), name=fields.get("setName"))


def page_from_response(resp: Response) -> Page:
    """The items of a list verb's response and what its resumptionToken says."""
    verb = resp.verb
    item_name = _ITEM_NAMES[verb]
    items: list[etree._Element] = []
    token_el = None
    if resp.body is not None:
        for child in resp.body:
            tag = child.tag
            name = LOCAL_NAMES.get(tag)
            if name is None:
                name = tag_local_name(tag)
            if name == item_name:
                items.append(child)
            elif name == "resumptionToken":
                token_el = child
    next_token, size, cursor = None, None, None
    if token_el is not None:
        next_token = (token_el.text or "").strip() or None  # an empty token ends the list
        size = _int(token_el.get("completeListSize"))
        cursor = _int(token_el.get("cursor"))
    return Page(
        verb=verb,
        items=items,
        token=next_token,
        complete_list_size=size,
        cursor=cursor,
        cleaned=resp.cleaned,
        nbytes=resp.nbytes,
    )


# The end of a ListRecords/ListIdentifiers document: its resumptionToken (any prefix) and the closing
# tags, nothing after them but white space.
_TRAILING_TOKEN = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?resumptionToken(?:\s[^>]*)?>([^<]*)</(?:[A-Za-z_][\w.-]*:)?resumptionToken\s*>"
    rb"\s*</(?:[A-Za-z_][\w.-]*:)?List(?:Records|Identifiers)\s*>\s*</(?:[A-Za-z_][\w.-]*:)?OAI-PMH\s*>\s*$"
)
_TAIL = 4096


def trailing_token(data: bytes) -> str | None:
    """A guess at a list response's resumptionToken from its last bytes, without parsing it.

    Only good for fetching the next page early: :func:`page_from_response` gives the real token,
    and a guess that differs from it is thrown away. ``None`` when the end of the document does not
    look like a token followed by the closing tags (no token, an empty one, or anything unusual).
    """
    found = _TRAILING_TOKEN.search(data, max(0, len(data) - _TAIL))
    if found is None:
        return None
    return html.unescape(found.group(1).decode("utf-8", errors="replace")).strip() or None


def children(parent: etree._Element | None, name: str) -> list[etree._Element]:
    """The child elements of ``parent`` with local name ``name`` (none without a parent)."""
    if parent is None:
        return []
    return [c for c in parent if local_name(c) == name]


def _fields(item: etree._Element) -> dict[str, str]:
    return {local_name(c): (c.text or "").strip() for c in item}


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
