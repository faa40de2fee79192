"""A second OS process committing pages to the record store, for the change-sequence tests.

``python -m tests.store.writer_process URL MEMBER PAGES SIZE`` opens the store, prints ``ready``, waits
for a line on stdin (so several writers start committing at the same moment), then commits ``PAGES``
pages of ``SIZE`` new records of ``MEMBER``, one transaction each with a short pause between them (as a
harvest fetching its next page), and exits 0.
"""

from __future__ import annotations

import asyncio
import sys

from schemas.record import Record
from store.front import RecordStore


def page_records(member: str, page: int, size: int) -> list[Record]:
    """The records of one page: ``oai:<member>:<page>:<i>``, so a reader can tell page and writer apart."""
    return [
        Record(member=member, oai_identifier=f"oai:{member}:{page}:{i}", title=f"{member} {page} số {i}")
        for i in range(size)
    ]


async def main(url: str, member: str, pages: int, size: int) -> None:
    store = await RecordStore.open(url)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        for page in range(pages):
            await store.commit_page(member, None, page_records(member, page, size))
            # a harvest fetches its next page between commits: without this pause one writer can take
            # every commit before the other gets the write lock, and nothing is interleaved to test
            await asyncio.sleep(0.005)
    finally:
        await store.close()


if __name__ == "__main__":
    url, member, pages, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    asyncio.run(main(url, member, pages, size))
