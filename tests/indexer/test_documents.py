"""Work keys: the same item held by several members gets one key, different items never share one."""

from __future__ import annotations

import unicodedata

from indexer.documents import to_document, work_key
from schemas.record import Identifiers, Record

DECOMPOSED = unicodedata.normalize("NFD", "Lịch sử Việt Nam")


def _rec(**fields: object) -> Record:
    return Record(member="HUS", oai_identifier="oai:x:1", **fields)  # type: ignore[arg-type]


def test_work_key_prefers_isbn_then_doi() -> None:
    ids = Identifiers(isbn=["9786040002389", "9780306406157"], issn=["0378-5955"], doi=["10.1000/x"])
    assert work_key(_rec(identifiers=ids)) == "isbn:9780306406157", "the smallest ISBN, whatever the order"
    assert work_key(_rec(identifiers=Identifiers(issn=["0378-5955"], doi=["10.1/x"]))) == "doi:10.1/x"


def test_an_articles_issn_does_not_merge_the_journals_articles() -> None:
    one = _rec(title="Mô hình A", type="article", identifiers=Identifiers(issn=["0378-5955"]))
    two = _rec(title="Mô hình B", type="article", identifiers=Identifiers(issn=["0378-5955"]))
    assert work_key(one) != work_key(two)
    journal = _rec(title="Tạp chí Khoa học", type="journal", identifiers=Identifiers(issn=["0378-5955"]))
    assert work_key(journal) == "issn:0378-5955"


def test_work_key_from_title_author_year_matches_across_spellings() -> None:
    a = _rec(title="Lịch sử Việt Nam.", authors=["Nguyễn, Văn A"], year=2019)
    b = _rec(title=DECOMPOSED, authors=["Nguyễn Văn A"], year=2019)
    c = _rec(title="Lich su Viet Nam", authors=["Nguyen Van A"], year=2019)
    assert work_key(a) == work_key(b) == work_key(c) == "t:lich su viet nam|nguyen|2019"
    d = _rec(title="Đất nước", authors=["John Smith"])
    assert work_key(d) == "t:dat nuoc|smith|"
    assert work_key(_rec(title="Đất nước", authors=["Smith, John, 1950-"])) == work_key(d)
    assert work_key(_rec(title="Đất nước", authors=["John Smith"], year=2001)) != work_key(d)


def test_work_key_untitled_records_do_not_merge() -> None:
    one = Record(member="HUS", oai_identifier="oai:x:1")
    two = Record(member="HUS", oai_identifier="oai:x:2")
    assert work_key(one) != work_key(two)


def test_document_carries_folded_and_exact_text() -> None:
    doc = to_document("hus-1", 7, _rec(title=DECOMPOSED, authors=["Nguyễn Văn A"], year=2019))
    assert doc.title_exact == "lịch sử việt nam" and doc.title_folded == "lich su viet nam"
    assert doc.work_key == "t:lich su viet nam|nguyen|2019" and doc.seq == 7
