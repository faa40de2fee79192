"""Listing one set of a member page by page, each page committed with the checkpoint of the next.

What a repository can do wrong half-way through a list is handled here: an expired resumptionToken
(the set is listed again), ``from`` refused at the declared granularity (asked again at the other),
a token refused after the last page (the list is whole all the same), a repeated token or tokens
running on well past the declared ``completeListSize`` (the listing is abandoned) and an unreadable
page (quarantined, retried at the next run).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from schemas.errors import HarvestError

from .checkpoint import Checkpoint
from .commits import PageCommitter
from .oai.errors import BadArgument, BadResumptionToken, ListOverrun, MalformedPage, ResumptionTokenLoop
from .oai.protocol import format_datestamp, other_granularity, parse_datestamp
from .read_ahead import Listing, PageReader
from .records import RowsPage

log = logging.getLogger(__name__)

_MAX_TOKEN_RESTARTS = 2  # badResumptionToken restarts of one set's listing before giving up

# What to do after a failed page: the set is done, ask again with ``from`` at the other granularity,
# list the set again from its start
Recovery = Literal["done", "regranulated", "restart"]


class SetLister:
    """Lists a member's sets for one run; counts what it had to work around, for the run's message."""

    def __init__(self, code: str, reader: PageReader, commits: PageCommitter, margin: int = 100) -> None:
        self.code = code
        self.margin = margin  # records or pages a listing may run past its completeListSize
        self.reader = reader
        self.commits = commits
        self.past_end_refused = 0  # sets whose last page carried a token the repository then refused
        self.regranulated: str | None = None  # the `from` sent again at the other granularity

    async def list_set(self, cp: Checkpoint) -> None:
        """Page through one set from the checkpoint's token, committing each page with the checkpoint.

        Returns with the checkpoint pointing at the next set. The next page is fetched and read (in a
        parse worker for a big list) while this one is being stored; pages are still committed
        strictly in order, one at a time.
        """
        reader = self.reader
        seen = reader.new_list()
        listing = Listing(cp.prefix, cp.sets[cp.set_index], cp.from_, cp.until)
        token = cp.token
        position = 0  # pages asked for in this listing (restarts included)
        pages = 0  # pages received in this listing since this run (re)started it
        restarts = 0
        pending: asyncio.Future[RowsPage] | None = None
        try:
            while True:
                if token is not None:
                    seen.add(token)
                try:
                    page = await (pending or reader.page(listing, token, position))
                except HarvestError as exc:
                    pending = None
                    step = await self._recover(cp, token, exc, restarts)
                    if step is None:
                        raise
                    if step == "done":
                        return
                    position += 1
                    if step == "regranulated":
                        listing = listing._replace(from_=cp.from_)
                    else:  # the token expired: list this set again from the checkpoint's `from`
                        restarts += 1
                        token = None
                        cp.listed = 0
                        pages = 0
                        seen.clear()
                    continue
                pending = None
                cp.absorb(page)
                pages += 1
                next_token = page.token
                if next_token is not None and self._overrun(cp, pages):
                    await self._abandon(cp, page, pages)
                if next_token is None or next_token in seen:
                    await self._last_page(cp, page, seen)
                    return
                reader.decoder.expect(page.complete_list_size)
                position += 1
                pending = reader.page(listing, next_token, position)
                cp.token = next_token
                await self.commits.commit(page.records, page.bad, cp.to_json())
                token = next_token
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
            reader.drop_ahead(after=-1)

    def _overrun(self, cp: Checkpoint, pages: int) -> bool:
        """Whether the listing, still handing out tokens, has run well past its ``completeListSize``
        (in records, or in pages: endless pages of nothing count too)."""
        size = cp.totals.get(str(cp.set_index))
        if size is None:
            return False
        limit = size + max(self.margin, size // 10)
        return cp.listed > limit or pages > limit

    async def _abandon(self, cp: Checkpoint, page: RowsPage, pages: int) -> None:
        """End an endless listing: its last page is stored without a checkpoint (the next run lists
        again from the high-water mark, not from this token), and the run fails."""
        await self.commits.commit(page.records, page.bad, None)
        size = cp.totals.get(str(cp.set_index))
        raise ListOverrun(
            f"repository declared completeListSize {size} but still hands out resumption tokens after "
            f"{cp.listed} records in {pages} pages; listing abandoned"
        )

    async def _last_page(self, cp: Checkpoint, page: RowsPage, seen: set[str]) -> None:
        """Commit the page that ends the set's listing: without a token, or with one seen before."""
        if page.token is not None and page.token in seen:
            # stored without a checkpoint: the next run lists again from the high-water mark
            await self.commits.commit(page.records, page.bad, None)
            raise ResumptionTokenLoop(
                f"repository repeated resumptionToken {page.token!r}; listing abandoned"
            )
        cp.next_set()
        await self.commits.commit(page.records, page.bad, cp.to_json())

    async def _recover(
        self, cp: Checkpoint, token: str | None, exc: HarvestError, restarts: int
    ) -> Recovery | None:
        """What to do after page ``token`` failed with ``exc``; ``None``: give up (re-raise)."""
        if token is not None and cp.listed_whole:
            # the page that completed the list carried a token all the same, and the repository
            # refuses it (invenio-app-rdm#2715): the list is whole, the set done
            log.warning("%s: the token after the last page was refused (%s)", self.code, exc)
            self.past_end_refused += 1
            cp.next_set()
            await self.commits.save_checkpoint(cp)
            return "done"
        if isinstance(exc, MalformedPage):
            await self.commits.quarantine_page(cp, token, exc)
            return None
        if token is None and isinstance(exc, BadArgument) and self._regranulate(cp):
            # the repository refused `from` at the granularity it declared: ask again at the other
            # one (a day's `from` only widens the window)
            log.warning("%s: `from` refused (%s); sent as %s", self.code, exc, cp.from_)
            return "regranulated"
        if not isinstance(exc, BadResumptionToken) or token is None or restarts >= _MAX_TOKEN_RESTARTS:
            return None
        log.info("%s: resumptionToken expired, restarting the set listing", self.code)
        return "restart"

    def _regranulate(self, cp: Checkpoint) -> bool:
        """Write the checkpoint's ``from`` at the other OAI granularity, once a run; whether it was."""
        if self.regranulated is not None or cp.from_ is None or cp.until is not None:
            return False
        when = parse_datestamp(cp.from_)
        if when is None:
            return False
        cp.from_ = self.regranulated = format_datestamp(when, other_granularity(cp.from_))
        return True
