"""Typo tolerance rules: edit budgets, the Damerau distance, and reading the meant words from titles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.search import SearchRequest
from search.fuzzy import FEW_HITS, damerau, edit_budget, edits1, meant_run, narrowed, plan
from search.query import parse_query
from search.service import SearchService
from search.tantivy_index import TantivyBackend

from .corpus import CORPUS


def test_edit_budget_forgives_one_slip_in_a_syllable() -> None:
    assert [edit_budget(w) for w in ("a", "so", "thu", "nghiep", "nghieng")] == [0, 1, 1, 1, 1]
    assert edit_budget("algorithms") == 2  # longer than any Vietnamese syllable


def test_a_swap_of_neighbours_is_one_edit() -> None:
    assert damerau("ngheip", "nghiep") == 1
    assert damerau("vein", "vien") == 1
    assert damerau("nghiep", "nghiep") == 0
    assert damerau("hcoj", "hoc") == 2
    assert damerau("abcdef", "xyz", limit=2) == 3  # beyond the limit: limit + 1
    assert "nghiep" in edits1("ngheip") and "thu" in edits1("th") and "so" in edits1("os")


def _osa(a: str, b: str) -> int:
    """Optimal string alignment by the textbook table: the distance ``damerau`` must agree with."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@settings(max_examples=400, deadline=None)
@given(st.text("abcdeđư", max_size=9), st.text("abcdeđư", max_size=9), st.integers(0, 3))
def test_damerau_is_the_optimal_string_alignment_distance_up_to_its_limit(a: str, b: str, limit: int) -> None:
    assert damerau(a, b, limit) == min(_osa(a, b), limit + 1)


def test_meant_run_reads_word_runs_from_titles() -> None:
    titles = [
        ["nghien", "cuu", "nong", "nghiep", "hien", "dai"],
        ["lich", "su", "dia", "ly", "viet", "nam"],
        ["nong", "nghiep", "hien", "dai", "tai", "tay", "nguyen"],
    ]
    # "dai" swapped into "dia", another real word: the titles say which run was meant.
    assert meant_run(("nghiep", "hien", "dia"), titles) == ("nghiep", "hien", "dai")
    assert meant_run(("nong", "ngheip"), titles) == ("nong", "nghiep")
    assert meant_run(("su", "dia", "ly"), titles) is None  # a title holds it as typed
    assert meant_run(("qqq", "zzz"), titles) is None
    assert meant_run(("lich", "s"), titles) == ("lich", "su")  # a lone letter: one edit


@pytest.mark.asyncio
async def test_plan_matches_within_budgets_and_leaves_out_what_matches_nothing(tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "tantivy")
    await backend.open()
    try:
        await backend.bulk(CORPUS)
        await backend.refresh()
        correction = await plan(parse_query("thu vein so qqqq NOT python"), backend)
        assert correction is not None
        assert correction.alternatives["vein"][0] == "vien"
        assert correction.dropped == {"qqqq"}
        assert correction.query.as_typed == parse_query("thu vein so qqqq NOT python").root
        assert await plan(parse_query('"thu vein"'), backend) is None  # quoted: as typed
        service = SearchService(backend)
        # fewer than FEW_HITS as typed, every word known and a title holding them: not corrected
        answer = await service.search(SearchRequest(q="củng cố"))
        assert answer.total < FEW_HITS and answer.corrected_query is None
    finally:
        await backend.close()


@pytest.mark.asyncio
async def test_words_typed_right_are_matched_as_typed_beside_a_slipped_one(tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "tantivy")
    await backend.open()
    try:
        await backend.bulk(CORPUS)
        await backend.refresh()
        correction = await plan(parse_query("thu vein so"), backend)
        assert correction is not None
        # Only the word unknown to the index stays fuzzy: "thu" no longer matches "thi", "tu", "the".
        assert narrowed(correction).query.root == replace(correction.query.root, fuzzy=(0, 1, 0))  # type: ignore[arg-type]
        answer = await SearchService(backend).search(SearchRequest(q="thu vein so", size=100))
        assert answer.corrected_query == "thư viện số" and answer.hits
        texts = {d.id: d.text_folded.split() for d in CORPUS}
        assert all({"thu", "so"} <= set(texts[h.work_id]) for h in answer.hits)
    finally:
        await backend.close()
