"""The Elasticsearch/OpenSearch backend: the pure DSL compiler, then the backend on a real node.

The node comes from the session fixture ``search_node_url`` (``tests/search_node``): a real OpenSearch
node started once per session, or ``LIENHOP_TEST_ELASTICSEARCH_URL``. Every test uses its own alias and
deletes its indexes afterwards.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio

from indexer.documents import to_document
from schemas.errors import BackendUnavailable, Conflict, InvalidInput
from schemas.record import Record
from schemas.search import IndexDocument, SearchFilters, SearchRequest
from search import analysis
from search.backend import SearchBackend
from search.elastic import ElasticBackend
from search.elastic.compile import (
    aggregations,
    autocomplete_body,
    compile_node,
    filter_clauses,
    prefix_term,
    relevance_clauses,
    search_body,
    sort_clause,
    vocabulary_body,
)
from search.elastic.mapping import DERIVED_FIELDS, HIT_SOURCE_FIELDS, index_body, source_json, to_source
from search.fuzzy import damerau
from search.query import parse_query
from search.query_ast import And, Keyword, MatchAll, Not, Or, ParsedQuery, Term, TextField, YearRange
from search.semantics import EXACT_BOOST, PHRASE_BOOST, PHRASE_EXACT_BOOST, decode_cursor
from tests.search_node import free_port

# ------------------------------------------------------------------------------------------ helpers


def term(text: str, field: TextField = "any", phrase: bool = False, prefix: bool = False) -> Term:
    exact = tuple(analysis.tokens(text))
    return Term(field, exact, tuple(analysis.fold(t) for t in exact), phrase=phrase, prefix=prefix)


def make_doc(
    doc_id: str,
    title: str,
    authors: Sequence[str] = (),
    subjects: Sequence[str] = (),
    year: int | None = None,
    member: str = "hust",
    type_: str = "book",
    language: str | None = "vie",
) -> IndexDocument:
    """The IndexDocument the indexer makes of such a record (``indexer.documents.to_document``)."""
    record = Record(
        member=member,
        oai_identifier=f"oai:{member}:{doc_id}",
        title=title,
        authors=list(authors),
        subjects=list(subjects),
        year=year,
        language=language,
        type=type_,
    )
    return to_document(doc_id, 0, record)


CORPUS = [
    make_doc("d01", "Củng cố kiến thức toán học", ["Nguyễn Văn An"], ["Toán học"], 2020),
    make_doc("d02", "Cũng có thể là tình yêu", ["Trần Thị Bình"], ["Văn học"], 2018, member="vnu"),
    make_doc("d03", "Lập trình Python cơ bản", ["Nguyễn An"], ["Tin học"], None, member="vnu"),
    make_doc("d04", "Giáo trình lập trình C", ["Lê Văn Cường"], ["Tin học"], 2015, type_="thesis"),
    make_doc("d05", "Python for data analysis", ["Wes McKinney"], ["Computer science"], 2017, language="eng"),
    make_doc("d06", "Thư viện số Việt Nam", ["Phạm Đức Dũng"], ["Thư viện"], 2021, member="ctu"),
    make_doc("d07", "Khoa học máy tính", ["Đặng Thu"], ["Tin học"], 2020, member="ctu"),
    make_doc("d08", "Máy tính và khoa học", ["Đỗ Khoa"], ["Tin học"], 2019),
]


async def search_ids(backend: ElasticBackend, q: str, **request: object) -> list[str]:
    result = await backend.search(parse_query(q), SearchRequest.model_validate({"size": 50, **request}))
    return [hit.doc.id for hit in result.hits]


@pytest_asyncio.fixture
async def backend(search_node_url: str) -> AsyncIterator[ElasticBackend]:
    """An opened backend on a fresh alias of the session node; its indexes are deleted afterwards."""
    opened = ElasticBackend(search_node_url, alias=f"t-{uuid.uuid4().hex[:12]}")
    await opened.open()
    try:
        yield opened
    finally:
        for name in await opened.list_indexes():
            await opened.client.indices.delete(index=name)
        await opened.close()


@pytest_asyncio.fixture
async def filled(backend: ElasticBackend) -> ElasticBackend:
    """The backend with ``CORPUS`` indexed and refreshed."""
    report = await backend.bulk(CORPUS)
    assert report.failed == []
    await backend.refresh()
    return backend


# ---------------------------------------------------------------------------- DSL compiler (no node)


def test_term_compiles_on_the_folded_field_of_its_field() -> None:
    assert compile_node(term("Lập trình")) == {
        "match": {"text_folded": {"query": "lap trinh", "operator": "and"}}
    }
    assert compile_node(term("Lập trình", field="title", phrase=True)) == {
        "match_phrase": {"title_folded": {"query": "lap trinh"}}
    }
    assert compile_node(term("nguyễn v", field="author", prefix=True)) == {
        "match_bool_prefix": {"author_folded": {"query": "nguyen v", "operator": "and"}}
    }
    phrase_prefix = compile_node(term("khoa học m", field="subject", phrase=True, prefix=True))
    assert phrase_prefix["match_phrase_prefix"]["subject_folded"]["query"] == "khoa hoc m"
    # A one-word "phrase" is just a word.
    assert compile_node(term("đức", phrase=True)) == {
        "match": {"text_folded": {"query": "duc", "operator": "and"}}
    }


def test_keywords_years_and_boolean_structure() -> None:
    assert compile_node(Keyword("lang", "vie")) == {"term": {"language": "vie"}}
    assert compile_node(Keyword("isbn", "9786040000000")) == {"term": {"isbn": "9786040000000"}}
    assert compile_node(YearRange(2015, None)) == {"range": {"year": {"gte": 2015}}}
    assert compile_node(YearRange(None, 2020)) == {"range": {"year": {"lte": 2020}}}
    assert compile_node(YearRange(None, None)) == {"exists": {"field": "year"}}
    a, b = Keyword("member", "hust"), Keyword("type", "book")
    assert compile_node(And((a, b))) == {"bool": {"filter": [compile_node(a), compile_node(b)]}}
    assert compile_node(Or((a, b))) == {
        "bool": {"should": [compile_node(a), compile_node(b)], "minimum_should_match": 1}
    }
    assert compile_node(Not(a)) == {"bool": {"must_not": [compile_node(a)]}}
    assert compile_node(MatchAll()) == {"match_all": {}}


def test_filters_are_or_within_and_between_fields() -> None:
    filters = SearchFilters(member=["hust", "vnu"], subject=["Tin học"], year_from=2000)
    assert filter_clauses(filters) == [
        {"terms": {"member": ["hust", "vnu"]}},
        {"terms": {"subjects": ["Tin học"]}},
        {"range": {"year": {"gte": 2000}}},
    ]
    assert filter_clauses(SearchFilters()) == []


def test_query_and_filters_are_filter_context_and_only_positive_terms_score() -> None:
    query = parse_query("khoa học NOT máy")
    body = search_body(query, SearchRequest(filters=SearchFilters(language=["vie"])))
    bool_query = body["query"]["bool"]
    assert bool_query["filter"][0] == compile_node(query.root)
    assert bool_query["filter"][1] == {"terms": {"language": ["vie"]}}
    scored_text = repr(bool_query["should"])
    assert "khoa hoc" in scored_text and "may" not in scored_text
    assert body["track_total_hits"] is True
    assert body["sort"][-1] == {"id": {"order": "asc"}}


def test_relevance_boosts_follow_the_shared_semantics() -> None:
    clauses = relevance_clauses([term("củng cố")])
    constants = [c["constant_score"] for c in clauses if "constant_score" in c]
    assert [c["boost"] for c in constants] == [EXACT_BOOST, PHRASE_BOOST, PHRASE_EXACT_BOOST]
    assert constants[0]["filter"] == {"match": {"text_exact": {"query": "củng cố", "operator": "and"}}}
    assert constants[2]["filter"] == {"match_phrase": {"title_exact": {"query": "củng cố"}}}
    weights = {
        next(iter(c["match"])): next(iter(c["match"].values()))["boost"] for c in clauses if "match" in c
    }
    assert weights == {"title_folded": 3.0, "author_folded": 2.0, "subject_folded": 1.5, "text_folded": 1.0}
    # One word: no phrase boosts; a title term scores on the title only.
    assert len(relevance_clauses([term("python", field="title")])) == 2


def test_sorts_always_end_with_the_id() -> None:
    assert sort_clause("relevance") == [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]
    assert sort_clause("year_desc")[0] == {"year": {"order": "desc", "missing": "_last"}}
    assert sort_clause("year_asc")[0] == {"year": {"order": "asc", "missing": "_last"}}
    assert sort_clause("title") == [{"title_sort": {"order": "asc"}}, {"id": {"order": "asc"}}]
    with pytest.raises(InvalidInput):
        sort_clause("random")


def test_paging_window_cursor_and_facets() -> None:
    query = ParsedQuery(root=MatchAll(), text="")
    body = search_body(query, SearchRequest(size=20, page=3))
    assert (body["from"], body["size"]) == (40, 21)  # one look-ahead hit decides next_cursor
    with pytest.raises(InvalidInput):
        search_body(query, SearchRequest(size=100, page=101))
    after = search_body(query, SearchRequest(size=20, page=3), search_after=[1.5, "x"])
    assert after["search_after"] == [1.5, "x"] and "from" not in after
    aggs = aggregations(["member", "subject", "year"], 5)
    assert aggs["subject"]["terms"]["field"] == "subjects"
    assert aggs["member"]["terms"]["order"] == [{"_count": "desc"}, {"_key": "asc"}]
    # every year, counted on the keyword sub-field (a histogram was 35 ms over 1M documents, this 2)
    assert aggs["year"]["terms"]["field"] == "year.key" and aggs["year"]["terms"]["size"] >= 10_000
    assert search_body(query, SearchRequest(size=0, facets=[]))["size"] == 0


def test_hits_fetch_only_display_fields() -> None:
    body = search_body(parse_query("python"), SearchRequest(size=10))
    assert body["_source"] == list(HIT_SOURCE_FIELDS)
    assert not any(f.endswith(("_exact", "_folded")) or f in DERIVED_FIELDS for f in body["_source"])
    assert search_body(parse_query("python"), SearchRequest(size=0))["_source"] is False


def test_bulk_source_line_is_the_stored_source() -> None:
    for doc in CORPUS:
        assert json.loads(source_json(doc)) == to_source(doc)
    assert "subtitle" not in to_source(CORPUS[0])  # None fields are not stored
    assert index_body(building=True)["settings"]["refresh_interval"] == "-1"
    assert "refresh_interval" not in index_body()["settings"]


def test_vocabulary_and_autocomplete_bodies() -> None:
    regex = vocabulary_body("a.b", 7)["aggs"]["words"]["terms"]
    assert regex["include"] == "a\\.b.*" and regex["size"] == 7
    typed = prefix_term(parse_query("lập tr"))
    assert typed is not None and typed.folded == ("lap", "tr")
    body = autocomplete_body("title", typed, 30)
    # the typed words anywhere in the title: a phrase whose last word is a prefix
    (anywhere,) = body["query"]["bool"]["filter"]
    assert anywhere["match_phrase_prefix"]["title_folded"]["query"] == "lap tr"
    assert autocomplete_body("subject", typed, 10)["_source"] == ["subjects"]
    with pytest.raises(InvalidInput):
        autocomplete_body("isbn", typed, 10)


def test_index_mapping_and_stored_source() -> None:
    body = index_body()
    assert body["settings"]["number_of_shards"] == 1
    assert body["mappings"]["_meta"] == {"position": 0}
    analyzer = body["settings"]["analysis"]["analyzer"]["lienhop_tokens"]
    assert analyzer["tokenizer"] == "whitespace"
    source = to_source(CORPUS[0])
    assert source["author_starts_folded"] == ["nguyen van an"]
    assert set(source) - set(body["mappings"]["properties"]) == set()


# ------------------------------------------------------------------------------ on the real node


@pytest.mark.asyncio
async def test_protocol_and_open_creates_an_empty_live_index(backend: ElasticBackend) -> None:
    assert isinstance(backend, SearchBackend)
    live = await backend.live_index()
    assert live is not None and live.startswith(backend.alias + "-")
    assert await backend.list_indexes() == [live]
    assert await backend.count() == 0
    await backend.open()  # idempotent: still one index
    assert await backend.list_indexes() == [live]


@pytest.mark.asyncio
async def test_alias_lifecycle_keeps_serving_the_old_index_and_keeps_one_for_rollback(
    backend: ElasticBackend,
) -> None:
    first = await backend.live_index()
    assert first is not None
    await backend.bulk(CORPUS[:3])
    await backend.refresh()

    second = await backend.create_index()
    assert await backend.live_index() == first  # a new index is not live
    await backend.bulk(CORPUS, index=second)
    await backend.refresh(second)
    assert await backend.count() == 3  # searches still answer on the old index
    assert await backend.count(second) == len(CORPUS)
    assert len(await search_ids(backend, "")) == 3

    assert await backend.swap_alias(second) == first
    assert await backend.live_index() == second
    assert len(await search_ids(backend, "")) == len(CORPUS)
    assert await backend.list_indexes() == [first, second]  # previous kept for rollback

    third = await backend.create_index()
    assert await backend.swap_alias(third) == second
    assert await backend.list_indexes() == [second, third]  # older versions dropped

    with pytest.raises(Conflict):
        await backend.drop_index(third)
    await backend.drop_index(second)
    assert await backend.list_indexes() == [third]


@pytest.mark.asyncio
async def test_swap_is_atomic_for_concurrent_searches(backend: ElasticBackend) -> None:
    await backend.bulk(CORPUS[:2])
    await backend.refresh()
    fresh = await backend.create_index()
    await backend.bulk(CORPUS, index=fresh)
    await backend.refresh(fresh)

    seen: list[int] = []
    stop = asyncio.Event()

    async def searcher() -> None:
        while not stop.is_set():
            result = await backend.search(parse_query(""), SearchRequest(size=0, facets=[]))
            seen.append(result.total)

    tasks = [asyncio.create_task(searcher()) for _ in range(4)]
    await asyncio.sleep(0.3)
    await backend.swap_alias(fresh)
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.gather(*tasks)
    # Every search saw either the whole old index or the whole new one, never nothing or an error.
    assert set(seen) == {2, len(CORPUS)}
    assert seen[-1] == len(CORPUS)


@pytest.mark.asyncio
async def test_bulk_reports_bad_documents_per_item(backend: ElasticBackend) -> None:
    # Keyword terms are limited to 32766 bytes, ids to 512: the engine refuses these two documents.
    immense = CORPUS[1].model_copy(update={"id": "immense", "isbn": ["9" * 40_000]})
    too_long_id = CORPUS[2].model_copy(update={"id": "x" * 600})
    report = await backend.bulk([CORPUS[0], immense, too_long_id, CORPUS[3]], delete_ids=["never-indexed"])
    assert report.indexed == 2
    assert report.deleted == 0
    failed = dict(report.failed)
    assert set(failed) == {"immense", "x" * 600}
    assert "isbn" in failed["immense"]
    await backend.refresh()
    assert await backend.count() == 2

    report = await backend.bulk([CORPUS[0].model_copy(update={"title": "Đổi tên"})], delete_ids=["d04"])
    assert (report.indexed, report.deleted, report.failed) == (1, 1, [])
    await backend.refresh()
    assert await backend.count() == 1
    got = await backend.get("d01")
    assert got is not None and got.title == "Đổi tên" and got.text_folded == CORPUS[0].text_folded
    assert await backend.get("d04") is None


@pytest.mark.asyncio
async def test_positions_live_in_the_mapping_meta_of_each_index(backend: ElasticBackend) -> None:
    assert await backend.get_position() == 0
    await backend.set_position(41)
    await backend.set_position(42)
    assert await backend.get_position() == 42
    fresh = await backend.create_index()
    assert await backend.get_position(fresh) == 0
    await backend.set_position(7, index=fresh)
    assert await backend.get_position() == 42
    await backend.swap_alias(fresh)
    assert await backend.get_position() == 7  # the position travels with its index


@pytest.mark.asyncio
async def test_matching_and_ranking(filled: ElasticBackend) -> None:
    # Exact diacritics first; the folded twin still matches.
    assert await search_ids(filled, "củng cố") == ["d01", "d02"]
    assert await search_ids(filled, "cũng có") == ["d02", "d01"]
    # Title phrase beats scattered syllables; unquoted words match in any order.
    assert await search_ids(filled, "khoa học máy tính") == ["d07", "d08"]
    assert await search_ids(filled, '"khoa học máy tính"') == ["d07"]
    assert await search_ids(filled, "title:lap*") == ["d03", "d04"]
    assert await search_ids(filled, "title:lập*") == ["d03", "d04"]
    assert await search_ids(filled, "author:nguyen") == ["d03", "d01"]  # BM25: shorter field first
    assert await search_ids(filled, "python NOT lang:vie") == ["d05"]
    assert await search_ids(filled, "NOT subject:(tin học)") == ["d01", "d02", "d05", "d06"]
    assert await search_ids(filled, "year:2018..2019") == ["d02", "d08"]
    assert await search_ids(filled, "thư viện OR python", sort="year_desc") == ["d06", "d05", "d03"]
    assert (await search_ids(filled, "", sort="year_asc"))[-1] == "d03"  # no year: last
    assert (await search_ids(filled, "", sort="year_desc"))[-1] == "d03"


@pytest.mark.asyncio
async def test_filters_do_not_change_scores_and_facets_count_exactly(filled: ElasticBackend) -> None:
    query = parse_query("tin học OR python")
    plain = await filled.search(query, SearchRequest(size=10))
    filtered = await filled.search(
        query, SearchRequest(size=10, filters=SearchFilters(member=["vnu", "hust"]))
    )
    scores = {hit.doc.id: hit.score for hit in plain.hits}
    assert all(scores[hit.doc.id] == hit.score for hit in filtered.hits)
    assert filtered.total == 4
    facets = filtered.facets
    assert [(f.value, f.count) for f in facets["member"]] == [("hust", 3), ("vnu", 1)]
    assert [(f.value, f.count) for f in facets["subject"]] == [("Tin học", 3), ("Computer science", 1)]
    assert [(f.value, f.count) for f in facets["year"]] == [("2015", 1), ("2017", 1), ("2019", 1)]
    assert [(f.value, f.count) for f in facets["language"]] == [("vie", 3), ("eng", 1)]
    assert list(facets) == ["member", "year", "type", "language", "subject"]


@pytest.mark.asyncio
async def test_a_new_index_fills_without_refreshes_until_refreshed_or_live(backend: ElasticBackend) -> None:
    async def interval(index: str) -> object:
        found = await backend.client.indices.get_settings(index=index, name="index.refresh_interval")
        return found.get(index, {}).get("settings", {}).get("index", {}).get("refresh_interval")

    assert await interval(str(await backend.live_index())) is None  # open() made it live: normal
    first = await backend.create_index()
    assert await interval(first) == "-1"
    assert (await backend.bulk(CORPUS, index=first)).failed == []
    await backend.refresh(first)
    assert await interval(first) is None
    assert await backend.count(first) == len(CORPUS)
    # An index some other process created (and never refreshed) is restored when it goes live.
    other = ElasticBackend(backend.url, alias=backend.alias)
    second = await other.create_index()
    assert (await other.bulk(CORPUS[:2], index=second)).failed == []
    await other.close()
    await backend.swap_alias(second)
    assert await interval(second) is None
    assert await backend.count() == 2  # refreshed on the way: live means visible


@pytest.mark.asyncio
async def test_hits_carry_the_display_fields(filled: ElasticBackend) -> None:
    result = await filled.search(parse_query('title:"lập trình python"'), SearchRequest(size=1))
    doc = result.hits[0].doc
    assert doc.id == "d03" and doc.title == "Lập trình Python cơ bản" and doc.authors == ["Nguyễn An"]
    assert doc.text_folded == "" and doc.subjects == []  # never fetched for a result page
    none = await filled.search(parse_query("zzzz"), SearchRequest(size=5, facets=["member", "year"]))
    assert none.total == 0 and none.hits == [] and none.facets == {"member": [], "year": []}


@pytest.mark.asyncio
async def test_cursor_paging_walks_every_hit_once(filled: ElasticBackend) -> None:
    query = parse_query("")
    by_page = [hit.doc.id for hit in (await filled.search(query, SearchRequest(size=50, sort="title"))).hits]
    walked: list[str] = []
    cursor: str | None = None
    while True:
        result = await filled.search(query, SearchRequest(size=3, sort="title", cursor=cursor, facets=[]))
        walked.extend(hit.doc.id for hit in result.hits)
        if result.next_cursor is None:
            break
        assert decode_cursor(result.next_cursor)[-1] == walked[-1]
        cursor = result.next_cursor
    assert walked == by_page and len(walked) == len(CORPUS)
    last_page = await filled.search(query, SearchRequest(size=3, page=3))
    assert len(last_page.hits) == 2 and last_page.next_cursor is None


@pytest.mark.asyncio
async def test_autocomplete_and_vocabulary(filled: ElasticBackend) -> None:
    assert await filled.autocomplete("title", parse_query("lap tr"), 5) == [
        "Lập trình Python cơ bản",  # a title's start first
        "lập trình C",  # then any other word: "Giáo trình lập trình C"
    ]
    assert await filled.autocomplete("title", parse_query("cũng c"), 5) == [
        "Cũng có thể là tình yêu",
        "Củng cố kiến thức toán học",
    ]
    assert await filled.autocomplete("author", parse_query("nguyen"), 5) == ["Nguyễn An", "Nguyễn Văn An"]
    # any word of a name, not only its first
    assert await filled.autocomplete("author", parse_query("van"), 5) == ["Lê Văn Cường", "Nguyễn Văn An"]
    vocabulary = await filled.vocabulary("kh", 10)
    assert vocabulary == [("khoa", 2)]
    assert (await filled.vocabulary("t", 2))[0] == ("tin", 4)


@pytest.mark.asyncio
async def test_the_words_near_a_slipped_word_are_those_the_documents_hold(filled: ElasticBackend) -> None:
    """``near``: the words within the edit budget that share the prefix, with their counts, the same
    the aggregation over the documents finds (now read from the term dictionary)."""
    near = await filled.vocabulary("an", 100, near=("anlaysys", 2))  # a swap and a wrong letter
    assert near == [("analysis", 1)]
    walked = await filled.vocabulary("an", 100)
    assert [(w, n) for w, n in walked if damerau("anlaysys", w) <= 2] == near
    assert await filled.vocabulary("an", 100, near=("anlaysis", 1)) == [("analysis", 1)]
    # a word is not its own neighbour, and one edit keeps out what two let in
    assert await filled.vocabulary("an", 100, near=("analysis", 1)) == []
    assert await filled.vocabulary("an", 100, near=("anlaysys", 1)) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ["auto", "opensearch", "elasticsearch"])
async def test_dead_url_is_backend_unavailable(engine: str) -> None:
    dead = ElasticBackend(f"http://127.0.0.1:{free_port()}", alias="dead", engine=engine)
    with pytest.raises(BackendUnavailable, match="unreachable"):
        await dead.open()
    await dead.close()
