"""Work documents: one search document per work, showing its fullest record and matching every record."""

from __future__ import annotations

import unicodedata

from indexer.documents import to_document, work_document
from schemas.record import Identifiers, Record

DECOMPOSED = unicodedata.normalize("NFD", "Lịch sử Việt Nam")


def _rec(member: str = "HUS", n: int = 1, **fields: object) -> Record:
    return Record(member=member, oai_identifier=f"oai:{member.lower()}:{n}", **fields)  # type: ignore[arg-type]


def test_document_carries_folded_and_exact_text() -> None:
    doc = to_document("w7", 7, _rec(title=DECOMPOSED, authors=["Nguyễn Văn A"], year=2019))
    assert doc.title_exact == "lịch sử việt nam" and doc.title_folded == "lich su viet nam"
    assert doc.id == "w7" and doc.seq == 7 and doc.member == ["HUS"]
    assert [r.record_id for r in doc.records] == ["w7"]


def test_a_work_shows_its_fullest_record_and_the_union_of_identifiers() -> None:
    thin = _rec("HUE", title="Thu vien so", identifiers=Identifiers(isbn=["9786049086410"]))
    full = _rec(
        "TVU",
        title="Thư viện số",
        subtitle="lý thuyết và thực hành",
        authors=["Nguyễn Văn An"],
        publisher="NXB Thông tin",
        year=2019,
        subjects=["Thư viện số"],
        identifiers=Identifiers(isbn=["9786049086410", "9786049086427"], local_id="TV-1"),
    )
    other = _rec("VNUA", title="Thư viện số", authors=["Nguyen, Van An"], subjects=["Digital libraries"],
                 identifiers=Identifiers(isbn=["9786049086410"], doi=["10.1/x"]))  # fmt: skip
    doc = work_document("w3", 9, [("hue-1", thin), ("tvu-1", full), ("vnua-1", other)])
    assert doc.id == "w3" and doc.member == ["HUE", "TVU", "VNUA"]
    assert (doc.title, doc.subtitle, doc.year, doc.publisher) == (
        "Thư viện số", "lý thuyết và thực hành", 2019, "NXB Thông tin"
    )  # fmt: skip
    assert doc.isbn == ["9786049086410", "9786049086427"] and doc.doi == ["10.1/x"]
    assert doc.subjects == ["Thư viện số", "Digital libraries"]
    refs = {r.record_id: r for r in doc.records}
    assert refs["tvu-1"].local_id == "TV-1" and refs["tvu-1"].isbn == "9786049086410"
    assert refs["hue-1"].member == "HUE" and refs["hue-1"].oai_identifier == "oai:hue:1"
    # every record's title and authors match: another spelling is analysed too, once; a title
    # already contained in the fullest one adds nothing
    assert doc.title_folded == "thu vien so ly thuyet va thuc hanh"
    assert doc.title_exact == "thư viện số lý thuyết và thực hành thu vien so"
    assert doc.author_folded.split().count("nguyen") == 1  # "Nguyen, Van An" folds to the same words


def test_ties_of_fullness_go_to_the_least_record_id() -> None:
    a = _rec("HUE", title="Cơ sở dữ liệu", year=2010)
    b = _rec("CTU", title="Co so du lieu", year=2011)
    doc = work_document("w1", 1, [("hue-9", a), ("ctu-2", b)])
    assert doc.title == "Co so du lieu" and doc.year == 2011
    assert "cơ sở dữ liệu" in doc.title_exact and "co so du lieu" in doc.title_exact
