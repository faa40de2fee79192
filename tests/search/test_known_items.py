"""Known-item search over the harvested demo consortium, typed the four ways researchers type, and
identifiers typed in the search box.

The demo members are harvested over real HTTP into the store and indexed by the real indexer; then a
few distinctive syllables of Vietnamese titles are typed exactly, without diacritics, decomposed (NFD)
and in lower case. The record's work (held by one member or several) must come up in the top 10.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest

from app.demo import setup
from app.demo.oai_provider import make_app
from harvesters.runner import harvest_members
from indexer.pipeline import Indexer
from schemas.search import SearchRequest
from schemas.settings import Settings
from search.analysis import fold, tokens
from search.known_items import known_item
from search.query_ast import Keyword
from search.service import SearchService
from store.front import RecordStore
from tests.servers import serve_in_thread

MEMBERS = ["HUE", "TVU", "VNUA"]


def _four_ways(words: str) -> dict[str, str]:
    return {
        "exact": words,
        "no diacritics": " ".join(fold(t) for t in tokens(words)),
        "decomposed": unicodedata.normalize("NFD", words),
        "lower-case": words.lower(),
    }


@pytest.mark.asyncio
async def test_vietnamese_titles_are_found_typed_four_ways(
    settings: Settings, store: RecordStore, backend
) -> None:
    with serve_in_thread(make_app(count=60, page_size=50)) as url:
        await setup.register_members(store, url)
        reports = await harvest_members(store, settings, codes=MEMBERS)
    assert all(r.ok for r in reports)
    await Indexer(store, backend).sync()
    service = SearchService(backend)

    live = [r for batch in [b async for b in store.iter_live()] for r in batch]
    vietnamese = [r for r in live if r.record.language == "vie" and r.record.title]
    # The three rarest syllables of a title identify it, as a researcher remembering a title would.
    df = Counter(t for s in vietnamese for t in set(tokens(s.record.title or "")))
    checked = 0
    for stored in vietnamese[::7][:12]:
        rec = stored.record
        work = await store.work_of(stored.id)
        title_tokens = tokens(unicodedata.normalize("NFC", rec.title or ""))
        rare = sorted(dict.fromkeys(title_tokens), key=lambda t: (df[t], t))[:3]
        words = " ".join(t for t in title_tokens if t in rare)
        for way, typed in _four_ways(words).items():
            answer = await service.search(SearchRequest(q=typed, size=10, facets=[]))
            works = {h.work_id for h in answer.hits}
            assert work in works, f"{rec.title!r} not in the top 10 for {typed!r} ({way})"
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("978-604-908-641-0", Keyword("isbn", "9786049086410")),
        ("604-908-641-9", Keyword("isbn", "9786049086410")),  # ISBN-10: searched as its ISBN-13
        ("978 604 908 641 0", Keyword("isbn", "9786049086410")),
        (" 9786049086410 ", Keyword("isbn", "9786049086410")),
        ("ISBN 604-908-641-9", Keyword("isbn", "9786049086410")),
        ("1859-218X", Keyword("issn", "1859-218X")),
        ("1859218x", Keyword("issn", "1859-218X")),
        ("10.31817/VJAS.2014.nasati0201", Keyword("doi", "10.31817/vjas.2014.nasati0201")),
        ("doi:10.1038/nature14539", Keyword("doi", "10.1038/nature14539")),
        ("https://doi.org/10.1038/nature14539", Keyword("doi", "10.1038/nature14539")),
        # not identifiers: a wrong check digit, words, a year range, a number
        ("978-604-908-641-1", None),
        ("thu vien 978", None),
        ("2015-2020", None),
        ("12345", None),
    ],
)
def test_identifiers_typed_in_the_box(typed: str, expected: Keyword | None) -> None:
    assert known_item(typed) == expected
