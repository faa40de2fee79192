"""The export writers as pure functions of a Record: awkward text survives each round trip."""

from __future__ import annotations

import unicodedata

import pymarc
import pytest

from app.protocols.exports.citation import split_name
from app.protocols.exports.formats import EXPORTS, choose_format
from app.protocols.exports.marc import to_marc21
from harvesters.parse_marc import record_from_marc
from schemas.errors import InvalidInput
from schemas.record import Identifiers, Record

from .export_readers import READERS

LINKS = ["http://lienhop.example.vn/record/hue-1"]


def _record(**changes: object) -> Record:
    values: dict[str, object] = {
        "member": "HUE",
        "oai_identifier": "oai:hue.example.vn:1",
        "title": "Quản lý tài nguyên nước & môi trường: {thực trạng} và 100% giải pháp",
        "subtitle": "Sách chuyên khảo",
        "authors": ["Nguyễn Văn Ánh", "Smith, John", "Đặng Thị Thu Hương"],
        "subjects": ["Tài nguyên nước", "Môi trường"],
        "abstract": "Dòng thứ nhất\nDòng thứ hai với ký tự # và _",
        "publisher": "Nhà xuất bản Khoa học và Kỹ thuật",
        "year": 2019,
        "language": "vie",
        "type": "book",
        "identifiers": Identifiers(isbn=["9786049086410"], doi=["10.54607/hcmue.2019.1"]),
    }
    values.update(changes)
    return Record.model_validate(values)


@pytest.mark.parametrize("format", list(EXPORTS))
def test_awkward_vietnamese_text_round_trips(format: str) -> None:
    record = _record()
    back = READERS[format](EXPORTS[format].write(record, LINKS))
    title = unicodedata.normalize("NFC", back.title)
    assert title.startswith("Quản lý tài nguyên nước & môi trường")
    assert "100% giải pháp" in title
    assert "Đặng" in " ".join(back.authors) and "Smith" in " ".join(back.authors)
    assert back.year is not None and "2019" in back.year


@pytest.mark.parametrize("form", ["NFC", "NFD"])
@pytest.mark.parametrize("format", ["ris", "bibtex", "csl-json", "dc", "marcxml", "marc"])
def test_text_is_written_as_the_store_holds_it(format: str, form: str) -> None:
    # the store holds NFC (the harvesters normalise); a writer neither composes nor decomposes
    title = unicodedata.normalize(form, "Thư viện số Đà Nẵng")
    back = READERS[format](EXPORTS[format].write(_record(title=title, subtitle=None), LINKS))
    assert back.title == title


def test_mapped_marc_reads_back_through_our_own_marc_mapping() -> None:
    record = _record()
    [marc] = list(pymarc.MARCReader(to_marc21(record, LINKS), to_unicode=True, force_utf8=True))
    again = record_from_marc(marc, "HUE")
    for field in ("title", "subtitle", "authors", "subjects", "publisher", "year", "language", "type"):
        assert getattr(again, field) == getattr(record, field), field
    assert again.identifiers.isbn == record.identifiers.isbn
    assert again.identifiers.doi == record.identifiers.doi


@pytest.mark.parametrize("kind", ["thesis", "article", "report", "conference", "dataset", "other"])
def test_every_record_type_exports(kind: str) -> None:
    record = _record(type=kind, authors=[], year=None, identifiers=Identifiers())
    for export in EXPORTS.values():
        assert export.write(record, ())


def test_names_split_into_family_and_given() -> None:
    assert split_name("Nguyễn Văn An") == ("Nguyễn", "Văn An")
    assert split_name("Smith, John A.") == ("Smith", "John A.")
    assert split_name("John Smith") == ("Smith", "John")
    assert split_name("UNESCO") == ("UNESCO", None)


def test_choice_of_format() -> None:
    assert choose_format("RIS", None) is EXPORTS["ris"]
    assert choose_format("json", "application/x-bibtex") is None  # the query wins
    assert choose_format(None, "application/marc;q=0.9, application/marcxml+xml") is EXPORTS["marcxml"]
    assert choose_format(None, "application/marc;q=0") is None
    with pytest.raises(InvalidInput, match="allowed: json, marcxml, marc, dc, ris, bibtex, csl-json"):
        choose_format("mods", None)
