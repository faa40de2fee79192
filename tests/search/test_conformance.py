"""The same scenarios on every backend (tantivy and Elasticsearch/OpenSearch).

Expectations come from ``search.semantics``: match sets, totals and facets are checked against a plain
Python reference model (``tests.search.support``); orders fixed by the semantics (boost tiers, sorts,
cursor paging) are checked exactly. Both backends therefore give the same ids, counts and facet numbers.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pymarc
import pytest
import pytest_asyncio
from pydantic import ValidationError

from schemas.errors import InvalidInput, QuerySyntaxError
from schemas.search import IndexDocument, SearchFilters, SearchRequest, SearchResponse
from search.analysis import folded_tokens
from search.backend import SearchBackend
from search.elastic import ElasticBackend
from search.query import MAX_DEPTH, parse_query
from search.service import SearchService
from search.tantivy_index import TantivyBackend

from .corpus import BY_ID, CORPUS
from .support import make_doc, ref_facets, ref_filter, ref_matches

NFD = unicodedata.normalize


@pytest_asyncio.fixture
async def service(backend: SearchBackend) -> SearchService:
    """A search service over the backend loaded with the conformance corpus."""
    report = await backend.bulk(CORPUS)
    assert report.failed == [] and report.indexed == len(CORPUS)
    await backend.refresh()
    return SearchService(backend, max_size=100)


async def ids(service: SearchService, q: str = "", **kwargs: object) -> list[str]:
    """Ids of every hit of ``q`` (``kwargs``: more request fields)."""
    response = await service.search(SearchRequest.model_validate({"q": q, "size": 100, **kwargs}))
    return [h.work_id for h in response.hits]


def reference(q: str, filters: SearchFilters | None = None) -> list[IndexDocument]:
    root = parse_query(q).root
    f = filters or SearchFilters()
    return [d for d in CORPUS if ref_matches(root, d) and ref_filter(f, d)]


QUERIES = [
    "",
    "củng cố",
    "cung co",
    "cũng có",
    "CỦNG CỐ",
    "khoa học máy tính",
    "khoa hoc may tinh",
    '"khoa học máy tính"',
    '"máy tính"',
    "thư viện",
    "thu vien",
    NFD("NFD", "thư viện số"),
    "THƯ VIỆN",
    "dai hoc",
    "Đà Nẵng",
    "da nang",
    'title:"thu vien"',
    "author:nguyen",
    'subject:"tin hoc"',
    "subject:(kinh te)",
    "comput*",
    "title:comput*",
    '"deep learn"*',
    "python OR algorithms",
    "(python OR algorithms) NOT deep",
    "NOT khoa",
    "khoa NOT (máy OR tiếng)",
    "year:2015..2020",
    "year:..2000",
    "year:2013",
    "year:2015.. lang:eng",
    "type:thesis",
    "member:ctu OR member:hust",
    "member:vnu",
    "NOT member:hust",
    "khoa NOT member:vnu",
    "member:vnu NOT member:hust",
    "lang:vi",
    "isbn:0262033844",
    "isbn:978-0-262-03384-8",
    "isbn:1491912057",
    "issn:00280836",
    "doi:https://doi.org/10.1038/NATURE14539",
    "doi:10.1038/nature14539 learning",
    "kinh tế",
    "lịch sử OR history",
    "computer science",
    "Python: data",
    "NOT year:2000..",
    "dữ liệu NOT type:thesis",
    # as deep as the parser allows (MAX_DEPTH): every backend must still answer
    "(" * MAX_DEPTH + "thu vien" + ")" * MAX_DEPTH,
    "khoa " + "NOT (" * (MAX_DEPTH // 2) + "máy OR tiếng" + ")" * (MAX_DEPTH // 2),
]


@pytest.mark.asyncio
async def test_match_sets_totals_and_facets_follow_the_semantics(service: SearchService) -> None:
    for q in QUERIES:
        expected = reference(q)
        # As typed: the reference model has no typo tolerance (``test_slipped_*`` cover it).
        response = await service.search(SearchRequest(q=q, size=100, facet_size=50, correct=False))
        assert response.total == len(expected), q
        assert {h.work_id for h in response.hits} == {d.id for d in expected}, q
        assert response.facets == ref_facets(expected, size=50), q


@pytest.mark.asyncio
async def test_exact_diacritics_rank_first(service: SearchService) -> None:
    found = await ids(service, "củng cố")
    assert set(found[:2]) == {"c01", "c03"} and found[2:] == ["c02"]
    assert (await ids(service, "cũng có"))[0] == "c02"
    assert set(await ids(service, "cung co")) == {"c01", "c02", "c03"}
    # Same with a title field and case differences.
    assert (await ids(service, "title:(CŨNG CÓ)"))[0] == "c02"


@pytest.mark.asyncio
async def test_title_phrase_beats_scattered_syllables(service: SearchService) -> None:
    for q in ("khoa học máy tính", "khoa hoc may tinh", "Khoa Học Máy Tính"):
        found = await ids(service, q)
        assert found[0] == "k01", q
        assert set(found) == {"k01", "k02", "k03"}, q
    # An exact-diacritic phrase in an abstract still beats a diacritic-free title phrase... none here;
    # but the exact scattered record (k02) ranks above nothing-exact ones when typed with diacritics.
    assert (await ids(service, '"khoa học"'))[0] in {"k01", "k02"}


@pytest.mark.asyncio
async def test_nfc_and_nfd_find_each_other(service: SearchService) -> None:
    typed_nfc = await ids(service, "thư viện số")
    typed_nfd = await ids(service, NFD("NFD", "thư viện số"))
    assert typed_nfc == typed_nfd
    assert typed_nfc[0] == "n01"  # stored NFD, the title phrase
    assert "n02" in typed_nfc
    assert set(await ids(service, "author:đức")) == set(await ids(service, "author:duc")) == {"n01", "v01"}
    assert await ids(service, 'author:"đặng văn đức"') == ["n01"]
    assert set(await ids(service, "đại học")) == set(await ids(service, "dai hoc")) == {"n01", "n02"}


@pytest.mark.asyncio
async def test_identifiers(service: SearchService) -> None:
    assert await ids(service, "isbn:0-262-03384-4") == ["e01"]
    assert await ids(service, "isbn:9780262033848") == ["e01"]
    assert await ids(service, "isbn:1491912057") == ["e05"]
    assert await ids(service, "issn:0028-0836") == ["e02"]
    assert await ids(service, "doi:10.1038/NATURE14539") == ["e02"]
    with pytest.raises(QuerySyntaxError) as err:
        await service.search(SearchRequest(q="python isbn:12345"))
    assert err.value.position == 12


@pytest.mark.asyncio
@pytest.mark.parametrize("q", ["", "tin học OR computer", "NOT khoa"])
async def test_sorts(service: SearchService, q: str) -> None:
    matched = reference(q)
    by_year_desc = sorted(matched, key=lambda d: (d.year is None, -(d.year or 0), d.id))
    by_year_asc = sorted(matched, key=lambda d: (d.year is None, d.year or 0, d.id))
    by_title = sorted(matched, key=lambda d: (d.title_sort, d.id))
    assert await ids(service, q, sort="year_desc") == [d.id for d in by_year_desc]
    assert await ids(service, q, sort="year_asc") == [d.id for d in by_year_asc]
    assert await ids(service, q, sort="title") == [d.id for d in by_title]
    if not parse_query(q).positive_terms:
        assert await ids(service, q) == sorted(d.id for d in matched)  # no text: ties -> id


@pytest.mark.asyncio
@pytest.mark.parametrize("sort", ["relevance", "year_desc", "year_asc", "title"])
async def test_cursor_pages_through_every_hit(service: SearchService, sort: str) -> None:
    for q in ("", "học OR computer"):
        everything = await ids(service, q, sort=sort)
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await service.search(SearchRequest(q=q, size=4, sort=sort, cursor=cursor, facets=[]))
            seen.extend(h.work_id for h in page.hits)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == everything, (q, sort)
        second = await service.search(SearchRequest(q=q, size=4, page=2, sort=sort, facets=[]))
        assert [h.work_id for h in second.hits] == everything[4:8]


@pytest.mark.asyncio
async def test_filters_and_facets(service: SearchService) -> None:
    cases = [
        SearchFilters(member=["vnu", "hust"]),
        SearchFilters(member=["vnu"], type=["thesis", "book"]),
        SearchFilters(subject=["Tin học"]),
        SearchFilters(subject=["Tin học", "Computer programming"], language=["vie"]),
        SearchFilters(year_from=2010, year_to=2020),
        SearchFilters(year_to=2005),
        SearchFilters(language=["eng"], year_from=2015),
    ]
    for filters in cases:
        for q in ("", "học", "computer OR dữ liệu"):
            expected = reference(q, filters)
            response = await service.search(
                SearchRequest(q=q, filters=filters, size=100, facet_size=3, correct=False)
            )
            assert response.total == len(expected), (q, filters)
            assert {h.work_id for h in response.hits} == {d.id for d in expected}, (q, filters)
            assert response.facets == ref_facets(expected, size=3), (q, filters)
    only = await service.search(SearchRequest(facets=["year", "member"], size=0))
    assert set(only.facets) == {"year", "member"} and only.hits == [] and only.total == len(CORPUS)


@pytest.mark.asyncio
async def test_paging_limits(service: SearchService) -> None:
    capped = await SearchService(service.backend, max_size=5).search(SearchRequest(size=50))
    assert len(capped.hits) == 5 and capped.next_cursor is not None
    with pytest.raises(InvalidInput):
        await service.search(SearchRequest(size=100, page=101))
    with pytest.raises(InvalidInput):
        await service.search(SearchRequest(cursor="not-a-cursor!"))
    with pytest.raises(ValidationError, match="unknown facet colour"):
        SearchRequest(facets=["colour"])  # the model refuses it, before any backend


@pytest.mark.asyncio
async def test_highlights(service: SearchService) -> None:
    response = await service.search(SearchRequest(q="thu vien so", size=20))
    hit = next(h for h in response.hits if h.work_id == "n01")
    marked = "<mark>Thư</mark> <mark>viện</mark> <mark>số</mark> và quản lý thông tin"
    assert hit.highlights["title"] == [marked]
    assert "<mark>thư</mark> <mark>viện</mark> <mark>số</mark>" in hit.highlights["abstract"][0]
    response = await service.search(SearchRequest(q="author:cormen comput*"))
    hit = response.hits[0]
    assert hit.highlights["authors"] == ["<mark>Cormen</mark>, Thomas H."]
    plain = await service.search(SearchRequest(q="algorithms", highlight=False))
    assert plain.hits[0].highlights == {}


@pytest.mark.asyncio
async def test_autocomplete(service: SearchService) -> None:
    # Titles: exact-diacritic matches first, then a title's start, then shorter ones.
    assert await service.autocomplete("khoa h", field="title") == [
        "Khoa học máy tính",
        "khoa học dữ liệu trong tính toán",  # the middle of "Máy học và khoa học dữ liệu ..."
        "Khóa học tiếng Anh cấp tốc",
    ]
    assert (await service.autocomplete("khóa h", field="title"))[0] == "Khóa học tiếng Anh cấp tốc"
    assert await service.autocomplete("KHOA HOC M", field="title") == ["Khoa học máy tính"]
    assert await service.autocomplete("nguyen van", field="author") == [
        "Nguyen, Van Bao",  # exact-diacritic prefix first
        "Nguyễn Văn An",  # then shorter; the two records of An give one suggestion
        "Nguyễn Văn Bình",
    ]
    assert await service.autocomplete("dang", field="author") == ["Đặng Văn Đức"]  # stored NFD, given NFC
    assert await service.autocomplete("zzz") == []
    assert await service.autocomplete("  ") == []
    with pytest.raises(InvalidInput):
        await service.autocomplete("x", field="isbn")


@pytest.mark.asyncio
async def test_autocomplete_completes_any_word(service: SearchService) -> None:
    # A word in the middle of a title, without diacritics: the title from that word on.
    assert await service.autocomplete("ky ng", field="title") == ["kỷ nguyên số"]
    assert await service.autocomplete("quan l") == ["quản lý thông tin"]
    # The middle word of a subject or an author name: the whole subject or name.
    assert await service.autocomplete("du lieu", field="subject") == ["Khoa học dữ liệu"]
    assert await service.autocomplete("van a", field="author") == ["Nguyễn Văn An"]
    # Every field when none is named: titles, subjects and names together, exact diacritics first.
    found = await service.autocomplete("tin")
    assert {"Tin học", "tính toán"} <= set(found)
    assert found.index("Tin học") < found.index("tính toán")


@pytest.mark.asyncio
async def test_spelling_suggestion(service: SearchService) -> None:
    # Searched exactly as typed: nothing, and a suggestion spelled as the index spells it.
    response = await service.search(SearchRequest(q="lap trinh pythn", correct=False))
    assert response.total == 0 and response.corrected_query is None
    assert response.suggestion == "lập trình python"
    response = await service.search(SearchRequest(q="title:algoritms", correct=False))
    assert response.suggestion == "title:algorithms"
    # A swap of two letters is one slip; a suggestion comes with any query finding fewer than 5.
    response = await service.search(SearchRequest(q="lich su da nan", correct=False))
    assert response.suggestion == "lịch sử đà nẵng"
    assert (await service.search(SearchRequest(q="python"))).suggestion is None
    assert (await service.search(SearchRequest(q="qqqqqqqq"))).suggestion is None


@pytest.mark.asyncio
async def test_the_words_near_a_long_word_are_all_found_however_many_share_its_start(
    backend: SearchBackend,
) -> None:
    """A long word's neighbours within its budget are every such word of the index, not only those
    among the most frequent words sharing its first letters (what a slip of ``conversations`` needs
    in a catalogue where thousands of words start with ``co``)."""
    common = " ".join(f"co{a}{b}words" for a in "abc" for b in "abcd")  # 12 words, each in 3 documents
    docs = [make_doc(f"f{n}", common) for n in range(3)] + [make_doc("rare", "conversations")]
    assert (await backend.bulk(docs)).indexed == len(docs)
    await backend.refresh()
    assert await backend.vocabulary("co", 5, near=("convesrations", 2)) == [("conversations", 1)]
    assert await backend.vocabulary("co", 5, near=("conversations", 2)) == []  # not its own neighbour


#: Slipped queries: (typed, the record first, corrected_query).
SLIPPED = [
    ("lap trinh pythn", "k03", "lập trình python"),  # deletion
    ("thu vein so", "n01", "thư viện số"),  # swap of neighbours
    ("leanring deep", "e02", "learning deep"),  # swap in a long word
    ("lich su da nan", "n03", "lịch sử đà nẵng"),  # deletion in a short syllable
    ("kinh te viet nam sau doi mio", "n05", "kinh tế việt nam sau đổi mới"),
    ("thu vien dia hoc", "n02", "thư viện đại học"),  # a swap that makes another real word
    ("may tinh va xa hi", "v03", "máy tính và xã hội"),
    ("title:algoritms", "e01", "title:algorithms"),
    ("author:cormne", "e01", "author:cormen"),
    ("thư viện số qqqq", "n01", "thư viện số"),  # a word matching nothing is left out
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("typed", "first", "corrected"), SLIPPED)
async def test_slipped_queries_find_the_record(
    service: SearchService, typed: str, first: str, corrected: str
) -> None:
    response = await service.search(SearchRequest(q=typed, size=10))
    assert response.hits and response.hits[0].work_id == first
    assert response.corrected_query == corrected and response.suggestion is None
    exactly = await service.search(SearchRequest(q=typed, size=10, correct=False))
    assert exactly.total < response.total and exactly.corrected_query is None


@pytest.mark.asyncio
async def test_corrections_rank_below_exact_and_folded_matches(service: SearchService) -> None:
    # Typed right, a query ranks and matches as before, even when it finds fewer than 5.
    assert await ids(service, "củng cố") == await ids(service, "củng cố", correct=False)
    assert (await service.search(SearchRequest(q="củng cố"))).corrected_query is None
    assert await ids(service, "thu vien so") == await ids(service, "thu vien so", correct=False)
    # A slipped word: the documents matching the query as typed still come first.
    typed = await ids(service, "củng cố qqqq")
    assert typed[:3] == await ids(service, "củng cố", correct=False)
    # Highlights mark the corrected words.
    response = await service.search(SearchRequest(q="thu vein so"))
    assert response.hits[0].highlights["title"] == [
        "<mark>Thư</mark> <mark>viện</mark> <mark>số</mark> và quản lý thông tin"
    ]


@pytest.mark.asyncio
async def test_known_items_typed_in_the_box(service: SearchService) -> None:
    for typed in (
        "978-0-262-03384-8",
        "9780262033848",
        "0-262-03384-4",
        "978 0 262 03384 8",
        "ISBN 0262033844",
    ):
        assert await ids(service, typed) == ["e01"], typed
    for typed in ("0028-0836", "1859-3100"):
        assert len(await ids(service, typed)) == 1, typed
    for typed in ("10.1038/nature14539", "doi:10.1038/NATURE14539", "https://doi.org/10.1038/nature14539"):
        assert await ids(service, typed) == ["e02"], typed
    # A wrong check digit is no ISBN: searched as words, it finds nothing.
    assert await ids(service, "978-0-262-03384-9") == []


@pytest.mark.asyncio
async def test_replace_and_delete(service: SearchService) -> None:
    backend = service.backend
    changed = make_doc("e01", "Algorithms unlocked", language="eng", member="hust", year=2013)
    report = await backend.bulk([changed], delete_ids=["e02", "missing"])
    await backend.refresh()
    assert report.indexed == 1 and report.deleted == 1
    assert await backend.count() == len(CORPUS) - 1
    assert await ids(service, "introduction") == []
    assert await ids(service, "unlocked") == ["e01"]
    assert await ids(service, "isbn:0262033844") == []
    assert await ids(service, "deep learning") == []
    doc = await backend.get("e01")
    assert doc is not None and doc.title == "Algorithms unlocked"
    assert await backend.get("e02") is None


@pytest.mark.asyncio
async def test_alias_lifecycle(backend: SearchBackend) -> None:
    first = await backend.live_index()
    assert first is not None
    await backend.bulk(CORPUS[:3])
    await backend.set_position(42)
    await backend.refresh()
    new = await backend.create_index()
    await backend.bulk(CORPUS, index=new)
    await backend.set_position(99, index=new)
    await backend.refresh(index=new)
    service = SearchService(backend)
    assert (await service.search(SearchRequest())).total == 3  # still the old index
    assert await backend.swap_alias(new) == first
    assert await backend.live_index() == new
    assert (await service.search(SearchRequest())).total == len(CORPUS)
    assert await backend.get_position() == 99
    assert await backend.get_position(index=first) == 42
    newer = await backend.create_index()
    assert await backend.swap_alias(newer) == new
    indexes = await backend.list_indexes()
    assert first not in indexes and new in indexes and newer in indexes  # previous kept, older dropped
    await backend.drop_index(new)
    assert await backend.list_indexes() == [newer]


# -- real-world records --------------------------------------------------------------------------------
def _marc_docs(fixtures: Path) -> list[IndexDocument]:
    records: list[pymarc.Record] = []
    for name in ("bf2__dnb_99.xml", "bf2__loc_general_99.xml", "nusl__vse_thesis_10_no_leader.xml"):
        records.extend(pymarc.parse_xml_to_array(str(fixtures / "marc" / name)))
    with open(fixtures / "marc" / "traject__stanford_test_data.utf8.mrc", "rb") as fh:
        records.extend(r for r in pymarc.MARCReader(fh, to_unicode=True, force_utf8=True) if r)
    docs: list[IndexDocument] = []
    for n, record in enumerate(records):
        title = (record.title or "").strip(" /:;.")
        if len(folded_tokens(title)) < 2:
            continue
        authors = [f.value() for f in record.get_fields("100", "110")]
        control = record.get_fields("008")
        year = control[0].data[7:11] if control and control[0].data[7:11].isdigit() else None
        docs.append(
            make_doc(
                f"m{n:04d}",
                title,
                authors=authors,
                year=int(year) if year else None,
                language=None,
                member="marc",
            )
        )
    return docs


@pytest.mark.asyncio
async def test_real_marc_records_are_found_by_their_title(backend: SearchBackend, fixtures_dir: Path) -> None:
    docs = _marc_docs(fixtures_dir)
    assert len(docs) > 150
    await backend.bulk(docs)
    await backend.refresh()
    service = SearchService(backend)
    misses = []
    for doc in docs:
        words = folded_tokens(doc.title or "")[:4]  # typed without diacritics, as researchers do
        response = await service.search(SearchRequest(q=" ".join(words), size=100, facets=[]))
        if doc.id not in {h.work_id for h in response.hits}:
            misses.append(doc.title)
    assert misses == []


# -- both backends side by side ------------------------------------------------------------------------
@pytest_asyncio.fixture
async def both(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[list[SearchService]]:
    """The corpus on tantivy (the embedded default) and on the search node at once."""
    url = request.getfixturevalue("search_node_url")
    tantivy = TantivyBackend(tmp_path / "tantivy")
    es = ElasticBackend(url, alias=f"both-{uuid.uuid4().hex[:12]}")
    await tantivy.open()
    await es.open()
    try:
        for b in (tantivy, es):
            await b.bulk(CORPUS)
            await b.refresh()
        yield [SearchService(tantivy), SearchService(es)]
    finally:
        for name in await es.list_indexes():
            await es.client.indices.delete(index=name)
        await es.close()
        await tantivy.close()


def _comparable(response: SearchResponse, ordered: bool) -> tuple[object, ...]:
    hits = [h.work_id for h in response.hits]
    return (
        response.total,
        hits if ordered else sorted(hits),
        response.facets,
        [h.highlights for h in sorted(response.hits, key=lambda h: h.work_id)],
        response.suggestion,
        response.corrected_query,
    )


@pytest.mark.asyncio
async def test_backends_give_identical_answers(both: list[SearchService]) -> None:
    for service in both:
        assert await service.backend.count() == len(BY_ID)  # each holds the whole corpus
    compared = answered = 0
    slipped = [typed for typed, _, _ in SLIPPED]
    for q in [*QUERIES, *slipped, "978 0 262 03384 8", "https://doi.org/10.1038/nature14539"]:
        for sort in ("relevance", "year_desc", "title"):
            answers = [await s.search(SearchRequest(q=q, sort=sort, size=100)) for s in both]
            first, second = (_comparable(a, ordered=sort != "relevance") for a in answers)
            assert first == second, (q, sort)
            compared += 1
            answered += answers[0].total > 0
    # Identical answers prove little if they are empty: most of the queries must find something.
    assert answered >= compared * 3 // 4, (answered, compared)
    for prefix, field in (
        ("khoa h", "title"),
        ("nguyen v", "author"),
        ("comp", "title"),
        ("d", "author"),
        ("du lieu", None),  # words in the middle of titles and subjects
        ("van a", "author"),
        ("hoc", "subject"),
    ):
        completions = [await s.autocomplete(prefix, field) for s in both]
        assert completions[0] == completions[1] and completions[0], (prefix, field)


@pytest.mark.asyncio
async def test_a_work_held_by_five_members_is_one_hit(service: SearchService) -> None:
    # k01 is one work held by five members: one hit, and one count in each of their facet values.
    response = await service.search(SearchRequest(q="isbn:9786040000002", facets=["member"]))
    assert [h.work_id for h in response.hits] == ["k01"] and response.total == 1
    assert response.hits[0].holdings_count == 5
    assert {f.value: f.count for f in response.facets["member"]} == dict.fromkeys(
        ["ctu", "hanoi-nl", "hcm-lib", "hust", "vnu"], 1
    )
    everything = await service.search(SearchRequest(size=0, facets=["member"]))
    held = {f.value: f.count for f in everything.facets["member"]}
    for code, count in held.items():
        assert count == sum(code in d.member for d in CORPUS), code
    assert sum(held.values()) > everything.total == len(CORPUS), "a work counts once per holder"
    for code in ("vnu", "hust"):
        only = await service.search(SearchRequest(size=100, filters=SearchFilters(member=[code])))
        assert {h.work_id for h in only.hits} == {d.id for d in CORPUS if code in d.member}
        assert "k01" in {h.work_id for h in only.hits}
