"""Answering the six OAI-PMH verbs for any repository that implements :class:`Repository`.

The union catalogue (``catalogue.py``) and the demo members' repositories (``app/demo/oai_provider.py``)
differ only in where their items come from and how a position in a list is written; the protocol
itself (argument checks, error answers, the XML of every verb, resumption tokens, ``cursor`` and
``completeListSize``) is this one module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request, Response
from lxml import etree

from .arguments import ListQuery, check_arguments, check_prefix, list_query, read_pairs
from .errors import (
    BadResumptionToken,
    IdDoesNotExist,
    NoRecordsMatch,
    NoSetHierarchy,
    OAIPMHError,
)
from .tokens import TokenCodec
from .xml import (
    MEDIA_TYPE,
    OAI,
    Header,
    MetadataFormat,
    RepositoryInfo,
    add_resumption_token,
    formats_element,
    header_element,
    identify_element,
    record_element,
    response_document,
    sets_element,
)


@dataclass
class Item:
    """One item of a repository: its header, and what its metadata is written from."""

    header: Header
    content: Any = None


@dataclass
class Page:
    """One page of a list; ``next_position`` (JSON-able) is where the next page starts, if any."""

    items: list[Item]
    next_position: list[Any] | None
    complete_list_size: int | None
    cursor: int


class Repository(Protocol):
    """What a provider needs of a repository."""

    formats: Sequence[MetadataFormat]
    tokens: TokenCodec

    async def identify(self, base_url: str) -> RepositoryInfo: ...

    async def list_sets(self) -> list[tuple[str, str]]:
        """(setSpec, setName) of every set; empty when the repository has no sets."""
        ...

    async def get_item(self, identifier: str) -> Item | None: ...

    async def list_page(self, query: ListQuery, position: list[Any] | None, with_metadata: bool) -> Page:
        """The page of ``query``'s list at ``position`` (``None``: the first page).

        Raises :class:`NoRecordsMatch` for a set it does not have and :class:`BadResumptionToken` for
        a position it cannot continue from.
        """
        ...

    def metadata(self, item: Item, prefix: str) -> etree._Element: ...


async def answer(repository: Repository, request: Request, base_url: str) -> Response:
    """The HTTP response to one OAI-PMH request (GET query string or POST form body)."""
    try:
        pairs = await read_pairs(request)
    except OAIPMHError as err:
        body = response_document(base_url, {}, error=err)
    else:
        body = await respond(repository, pairs, base_url)
    return Response(body, media_type=MEDIA_TYPE)


async def respond(
    repository: Repository, pairs: Sequence[tuple[str, str]], base_url: str, now: datetime | None = None
) -> bytes:
    """The complete OAI-PMH response document to one request's arguments."""
    args: dict[str, str] = {}
    try:
        args = check_arguments(pairs)
        body = await _answer_verb(repository, args, base_url)
    except OAIPMHError as err:
        return response_document(base_url, args, error=err, now=now)
    return response_document(base_url, args, body, now=now)


async def _answer_verb(repository: Repository, args: dict[str, str], base_url: str) -> etree._Element:
    verb = args["verb"]
    prefixes = [f.prefix for f in repository.formats]
    if verb == "Identify":
        return identify_element(await repository.identify(base_url))
    if verb == "ListMetadataFormats":
        if "identifier" in args and await repository.get_item(args["identifier"]) is None:
            raise IdDoesNotExist(f"no item {args['identifier']!r}")
        return formats_element(repository.formats)
    if verb == "ListSets":
        if "resumptionToken" in args:
            raise BadResumptionToken("ListSets is never split, so no token continues it")
        sets = await repository.list_sets()
        if not sets:
            raise NoSetHierarchy("this repository has no sets")
        return sets_element(sets)
    if verb == "GetRecord":
        prefix = check_prefix(args["metadataPrefix"], prefixes)
        item = await repository.get_item(args["identifier"])
        if item is None:
            raise IdDoesNotExist(f"no item {args['identifier']!r}")
        el = etree.Element(f"{{{OAI}}}GetRecord")
        metadata = None if item.header.deleted else repository.metadata(item, prefix)
        el.append(record_element(item.header, metadata))
        return el
    return await _list(repository, args, prefixes)


async def _list(repository: Repository, args: dict[str, str], prefixes: list[str]) -> etree._Element:
    verb = args["verb"]
    position: list[Any] | None = None
    if "resumptionToken" in args:
        query, position = _resume(repository, args["resumptionToken"], verb, prefixes)
    else:
        query = list_query(args, prefixes)
    records = verb == "ListRecords"
    page = await repository.list_page(query, position, with_metadata=records)
    if not page.items:
        raise NoRecordsMatch("no records match the request")
    el = etree.Element(f"{{{OAI}}}{verb}")
    for item in page.items:
        if records:
            metadata = None if item.header.deleted else repository.metadata(item, query.prefix)
            el.append(record_element(item.header, metadata))
        else:
            el.append(header_element(item.header))
    if page.next_position is not None or page.cursor > 0:
        token = None
        if page.next_position is not None:
            token = repository.tokens.encode([query.to_json(), page.next_position])
        add_resumption_token(el, token, page.complete_list_size, page.cursor)
    return el


def _resume(
    repository: Repository, token: str, verb: str, prefixes: list[str]
) -> tuple[ListQuery, list[Any]]:
    values = repository.tokens.decode(token)
    try:
        raw_query, position = values
        query = ListQuery.from_json(raw_query)
    except (ValueError, TypeError) as exc:
        raise BadResumptionToken(f"the resumptionToken is not valid ({exc})") from exc
    if query.verb != verb or query.prefix not in prefixes or not isinstance(position, list):
        raise BadResumptionToken(f"the resumptionToken does not continue a {verb} list")
    return query, position
