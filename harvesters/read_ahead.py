"""Reading one list's pages in order while the next ones are already asked for.

When a page's body arrives, the page after it is asked for at once, with the token its last bytes
show (:func:`~harvesters.oai.protocol.trailing_token`), so that reading a page never waits for the
server to answer the next request; with several parse workers, that page is read too while this one
still is. Requests stay one after the other (the next one goes out once this one has been answered),
and pages read ahead of a page whose real token contradicts the guess are thrown away.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, NamedTuple

from .oai.client import OAIClient
from .oai.errors import NoRecordsMatch
from .oai.protocol import list_params, oai_query, trailing_token
from .records import RowsPage
from .workers import PageDecoder, ignore_outcome


class Listing(NamedTuple):
    """What a ListRecords request asks besides the token: the same for every page of one list."""

    prefix: str
    set_spec: str | None
    from_: str | None
    until: str | None


@dataclass(eq=False)
class _Ahead:
    """A page of the list asked for before its turn (see :meth:`PageReader.fetch`)."""

    position: int
    token: str
    task: asyncio.Future[Any]  # the page read into rows (``read``), else its body
    read: bool


class PageReader:
    """One member's ListRecords pages, fetched and read into rows, with the next ones asked for ahead."""

    def __init__(self, client: OAIClient, decoder: PageDecoder, code: str) -> None:
        self.client = client
        self.decoder = decoder
        self.code = code
        self._ahead: list[_Ahead] = []  # pages of the list fetched or read before their turn
        self.listed_tokens: set[str] = set()  # the tokens of the list being read (a loop stops it)

    def new_list(self) -> set[str]:
        """Start reading another list: its tokens so far (none), which the caller fills in."""
        self.listed_tokens = set()
        return self.listed_tokens

    async def fetch(
        self,
        listing: Listing,
        token: str | None,
        position: int,
        body: asyncio.Future[bytes] | None = None,
    ) -> RowsPage:
        """Page ``position`` of a list (the page of ``token``), fetched and read into rows.

        ``noRecordsMatch`` is an empty page. Once the body is in, the next page is asked for ahead
        (see :meth:`_read_ahead`). ``body`` is the page's body fetched ahead, if it was.
        """
        params = list_params("ListRecords", *listing, token)

        async def decode(data: bytes) -> RowsPage:
            self._read_ahead(listing, data, token, position)
            try:
                return await self.decoder.decode(data, self.code, listing.prefix)
            except BaseException:
                # the page is fetched again or given up: no request may overtake it
                self.drop_ahead(after=position)
                raise

        try:
            return await self.client.request_with("ListRecords", decode, params, body)
        except NoRecordsMatch:
            return RowsPage(records=[], bad=[], token=None)

    def page(self, listing: Listing, token: str | None, position: int) -> asyncio.Future[RowsPage]:
        """Page ``position`` of the list, of ``token``: the task reading it ahead, or a new one."""
        for entry in self._ahead:
            if entry.position == position and entry.token == token:
                self._ahead.remove(entry)
                if entry.read:
                    task = entry.task
                else:  # only its body is on the way
                    task = asyncio.ensure_future(self.fetch(listing, token, position, entry.task))
                break
        else:
            self.drop_ahead(after=position - 1)  # read ahead of a wrong guess
            task = asyncio.ensure_future(self.fetch(listing, token, position))
        self._promote(listing)
        return task

    def _read_ahead(self, listing: Listing, data: bytes, token: str | None, position: int) -> None:
        """Ask for the page after ``data`` (page ``position``, of ``token``) before its turn.

        It is read as well (fetched and parsed, and the page after it asked for in turn) while fewer
        pages are being read than the parse workers can take; otherwise only its body is fetched.
        """
        self.drop_ahead(after=position)  # left from an earlier attempt at this page
        guess = trailing_token(data)
        if guess is None or guess == token or guess in self.listed_tokens:
            return  # a repeated token ends the listing with an error: nothing to fetch
        if any(entry.token == guess for entry in self._ahead):
            return
        read = sum(entry.read for entry in self._ahead) < self.decoder.read_ahead
        task: asyncio.Future[Any]
        if read:
            task = asyncio.ensure_future(self.fetch(listing, guess, position + 1))
        else:
            query = oai_query("ListRecords", list_params("ListRecords", *listing, guess))
            task = asyncio.ensure_future(self.client.fetch(query))
        task.add_done_callback(ignore_outcome)
        self._ahead.append(_Ahead(position + 1, guess, task, read))

    def _promote(self, listing: Listing) -> None:
        """Start reading the body fetched ahead, if a parse worker has room for it now."""
        if not self._ahead or self._ahead[-1].read:
            return
        if sum(entry.read for entry in self._ahead) >= self.decoder.read_ahead:
            return
        last = self._ahead.pop()
        task = asyncio.ensure_future(self.fetch(listing, last.token, last.position, last.task))
        task.add_done_callback(ignore_outcome)
        self._ahead.append(_Ahead(last.position, last.token, task, True))

    def drop_ahead(self, after: int) -> None:
        """Forget (and stop) what is being fetched or read ahead of page ``after``."""
        keep = []
        for entry in self._ahead:
            if entry.position > after:
                entry.task.cancel()
            else:
                keep.append(entry)
        self._ahead = keep
