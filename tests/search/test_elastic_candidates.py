"""The search node's cheaper hits lookups give what one plain request gives.

``NOT field:value`` on a single-valued keyword field is sent as a positive filter, and the hits of
one-word terms and phrases are found among candidates ranked by flat score sums, then ranked exactly
(``search.elastic.plan.candidates``: ``flat_query``, ``candidates_body``, ``among``, ``certified``).
Each search here is compared with the single ``search_body`` request, on a corpus with long runs of
equal scores so that some candidate pages cannot be certified and the plain hits request answers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from indexer.documents import to_document
from schemas.record import Record
from schemas.search import IndexDocument, SearchFilters, SearchRequest
from search.backend import BackendResult
from search.elastic import ElasticBackend
from search.elastic.client import SEARCH_FILTER_PATH
from search.elastic.compile import search_body
from search.elastic.plan import search_plan
from search.elastic.plan.candidates import CANDIDATE_MARGIN, certified
from search.elastic.results import result_from_answer
from search.query import parse_query
from search.semantics import decode_cursor

LANGUAGES = ("vie", "eng", None)
MEMBERS = ("hust", "vnu", "ctu")


def _doc(n: int, title: str, abstract: str | None = None, author: str = "Nguyễn Văn") -> IndexDocument:
    member = MEMBERS[n % len(MEMBERS)]
    record = Record(
        member=member,
        oai_identifier=f"oai:{member}:{n}",
        title=title,
        authors=[f"{author} {n % 7}"],
        subjects=["Khoa học"] if n % 2 else [],
        abstract=abstract,
        language=LANGUAGES[n % len(LANGUAGES)],
        type="book" if n % 4 else "thesis",
    )
    return to_document(f"d{n:03d}", n, record)


def _corpus() -> list[IndexDocument]:
    # Copies with one text (equal scores, more than a candidate window) and varied ones around them.
    same = [_doc(n, "Khoa học dữ liệu", author="Khổng Minh") for n in range(2 * CANDIDATE_MARGIN + 30)]
    varied = [
        _doc(100 + n, f"Khoa học {'máy tính ' * (n % 3)}tập {n}", "khoa học " * (n % 5) or None)
        for n in range(40)
    ]
    return same + varied + [_doc(200, "Văn học dân gian"), _doc(201, "Data science")]


@pytest_asyncio.fixture
async def filled(search_node_url: str) -> AsyncIterator[ElasticBackend]:
    """A backend on a fresh alias holding ``_corpus()``; its indexes are deleted afterwards."""
    backend = ElasticBackend(search_node_url, alias=f"cand-{uuid.uuid4().hex[:12]}")
    await backend.open()
    try:
        assert (await backend.bulk(_corpus())).failed == []
        await backend.refresh()
        yield backend
    finally:
        for name in await backend.list_indexes():
            await backend.client.indices.delete(index=name)
        await backend.close()


async def _plain(backend: ElasticBackend, q: str, request: SearchRequest) -> BackendResult:
    """The answer of the single request ``search_body`` (no plan, no candidates)."""
    after = decode_cursor(request.cursor) if request.cursor else None
    body = search_body(parse_query(q), request, after)
    return result_from_answer(await backend.raw_search(body, filter_path=SEARCH_FILTER_PATH), request)


def _seen(result: BackendResult) -> tuple[object, ...]:
    hits = [(hit.doc.id, hit.score, hit.sort_values) for hit in result.hits]
    return result.total, hits, result.facets, result.next_cursor


QUERIES = [
    "khoa",
    "hoc",
    '"khoa học"',
    "dữ liệu",
    "khoa NOT lang:eng",
    '"khoa hoc" NOT member:vnu',
    "khoa NOT lang:eng NOT type:thesis",
    "data OR văn",
    "kh*",  # the top tier (every clause matches) fills the page
    "kh* NOT lang:eng",
    "ng*",  # it does not: the plain hits request answers
    "da* OR kh*",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("q", QUERIES)
async def test_pages_and_cursors_are_those_of_one_plain_request(filled: ElasticBackend, q: str) -> None:
    for request in (
        SearchRequest(size=10),
        SearchRequest(size=10, page=3),
        SearchRequest(size=5, filters=SearchFilters(member=["hust", "ctu"])),
    ):
        assert _seen(await filled.search(parse_query(q), request)) == _seen(await _plain(filled, q, request))
    # Walk every hit by cursor: each page as the plain request gives it, every match once.
    walked: list[str] = []
    request = SearchRequest(size=7, facets=[])
    while True:
        got = await filled.search(parse_query(q), request)
        assert _seen(got) == _seen(await _plain(filled, q, request))
        walked.extend(hit.doc.id for hit in got.hits)
        if got.next_cursor is None:
            break
        request = request.model_copy(update={"cursor": got.next_cursor})
    assert len(walked) == len(set(walked)) == got.total


@pytest.mark.asyncio
async def test_not_on_a_language_keeps_documents_without_one(filled: ElasticBackend) -> None:
    result = await filled.search(parse_query("khoa NOT lang:eng"), SearchRequest(size=100))
    languages = {hit.doc.language for hit in result.hits}
    assert languages == {"vie", None} and len(result.hits) == result.total


def test_the_plan_looks_up_one_word_and_phrase_hits_through_candidates() -> None:
    def planned(q: str, **request: object) -> bool:
        return search_plan(parse_query(q), SearchRequest.model_validate(request)).approximate is not None

    assert planned("khoa") and planned('"khoa học"') and planned("khoa NOT lang:eng")
    assert planned("kho*") and planned("kho* OR ng*")  # constant scores: the top tier by id
    assert not planned("kho* data")  # a prefix beside scored words: flat, it skips no more
    assert not planned("khoa", sort="title") and not planned("khoa", size=0)
    assert not planned("khoa", page=30)  # deep pages: the exact query alone


def test_a_page_is_certified_only_beyond_a_rounding_of_the_last_candidate() -> None:
    def hits(*scores: float) -> list[dict[str, object]]:
        return [{"_score": score} for score in scores]

    window = 4
    assert certified(hits(9.0, 8.0), window, hits(9.0), 2)  # every match is a candidate
    assert certified(hits(9.0, 8.0, 7.0, 5.0), window, hits(9.0, 8.0), 2)
    assert not certified(hits(9.0, 8.0, 7.0, 5.0), window, hits(9.0), 2)  # page not full
    assert not certified(hits(9.0, 8.0, 8.0, 8.0), window, hits(9.0, 8.0), 2)  # a tie may be outside
    assert not certified(hits(1003.6, 1003.6, 1003.6, 1003.6), window, hits(1003.6, 1003.6001), 2)
    # The top tier in id order: its full page has the top score, whatever came after it.
    assert certified(hits(), window, hits(1007.5, 1007.5), 2, by_id=True)
    assert not certified(hits(), window, hits(1007.5), 2, by_id=True)
    assert not certified(hits(), window, hits(1007.5, 1006.0), 2, by_id=True)
