"""MARC21 / MARCXML to Record mapping, checked against the real shared fixture files."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pymarc
import pytest
from pymarc import Field, Indicators, Subfield

from harvesters.importer import iter_iso2709
from harvesters.marc_io import decode_iso2709, pymarc_from_marcxml
from harvesters.parse_marc import (
    check_marc21,
    local_identifier,
    record_from_marc,
    record_from_marcxml,
)
from harvesters.xml import local_name, parse_xml
from schemas.errors import MarcImportError
from schemas.record import Record


def _chunks(path: Path) -> list[bytes]:
    with path.open("rb") as stream:
        return [c.data for c in iter_iso2709(stream)]


def _records(path: Path) -> list[Record]:
    return [record_from_marc(decode_iso2709(chunk), "HUS") for chunk in _chunks(path)]


def test_perl_books_map_title_author_isbn_year(fixtures_dir: Path) -> None:
    records = _records(fixtures_dir / "marc" / "pymarc__test.dat")
    assert len(records) == 10
    first = records[0]
    assert first.oai_identifier == "marc:IMchF:fol05731351"
    assert first.identifiers.local_id == "fol05731351"
    assert first.title == "ActivePerl with ASP and ADO"
    assert first.authors == ["Martinsson, Tobias"]
    assert first.identifiers.isbn == ["9780471383147"]
    assert first.publisher == "John Wiley & Sons"
    assert (first.year, first.language, first.type, first.raw_format) == (2000, "eng", "book", "marc21")
    assert "Perl (Computer program language)" in first.subjects
    third = records[2]
    assert (third.title, third.subtitle) == ("Perl", "programmer's reference")  # ISBD " :" and " /" gone
    assert records[1].authors == ["Descartes, Alligator", "Bunce, Tim"]
    assert all(r.raw.startswith("<record") and "fol0" in r.raw for r in records)


def test_marc8_and_utf8_twins_give_identical_nfc_records(fixtures_dir: Path) -> None:
    utf8 = [decode_iso2709(c) for c in _chunks(fixtures_dir / "marc" / "marc4j__brkrtest_UTF8.mrc")]
    marc8 = [decode_iso2709(c) for c in _chunks(fixtures_dir / "marc" / "marc4j__brkrtest_marc8_samples.mrc")]
    assert len(utf8) == len(marc8) == 8
    for a, b in zip(utf8, marc8, strict=True):
        ra, rb = record_from_marc(a, "HUS"), record_from_marc(b, "HUS")
        assert ra.model_dump(exclude={"raw"}) == rb.model_dump(exclude={"raw"})
    # the Vietnamese letters of record 2 (notes are kept in raw): NFC, equal in both encodings
    raw_utf8 = record_from_marc(utf8[1], "HUS").raw
    raw_marc8 = record_from_marc(marc8[1], "HUS").raw
    for word in ("Sở", "củi", "BƠ", "XƯA", "Tư Dưc", "đavola", "Đuro", "teḍa"):
        assert word in raw_utf8 and word in raw_marc8
    assert unicodedata.is_normalized("NFC", raw_utf8)
    # the UTF-8 file itself holds decomposed letters: NFC is our doing
    assert any(not unicodedata.is_normalized("NFC", f.value()) for f in utf8[1].get_fields("500"))


def test_lying_encoding_flags_are_detected(fixtures_dir: Path) -> None:
    flagged = _records(fixtures_dir / "marc" / "pymarc__utf8_with_leader_flag.dat")[0]
    unflagged = _records(fixtures_dir / "marc" / "pymarc__utf8_without_leader_flag.dat")[0]
    assert unflagged.model_dump(exclude={"raw"}) == flagged.model_dump(exclude={"raw"})
    # leader says UTF-8 but the bytes are MARC-8
    french = _records(fixtures_dir / "marc" / "rubymarc__marc8_accented_chars.marc")[0]
    assert french.authors == ["Serreau, Geneviève"]
    assert french.title == 'Histoire du "nouveau théâtre."'
    assert french.language == "fra"


def test_bad_utf8_bytes_become_replacement_characters_not_lost_records(fixtures_dir: Path) -> None:
    record = _records(fixtures_dir / "marc" / "rubymarc__utf8_with_bad_bytes.marc")[0]
    assert record.title is not None and "\ufffd" in record.title
    assert record.title.startswith("Photčhanānukrom")


def test_880_vernacular_names_are_extra_authors(fixtures_dir: Path) -> None:
    record = _records(fixtures_dir / "marc" / "traject__hebrew880s.marc")[0]
    assert record.title == 'Anarkhizm be-"Tsiyon"'
    assert record.authors == ["Ratsabi, Shalom", "רצבי, שלום"]
    assert record.language == "heb"
    assert record.identifiers.isbn == ["9789651321337"]


def test_stanford_records_all_map_with_titles(fixtures_dir: Path) -> None:
    records = _records(fixtures_dir / "marc" / "traject__stanford_test_data.utf8.mrc")
    assert len(records) == 30
    assert all(r.title for r in records)
    assert records[0].oai_identifier == "marc:DLC:00282214"  # 001 "   00282214 " trimmed


def test_unimarc_is_refused_with_a_clear_reason(fixtures_dir: Path) -> None:
    record = decode_iso2709(_chunks(fixtures_dir / "marc" / "pymarc__testunimarc.dat")[0])
    with pytest.raises(MarcImportError, match="UNIMARC"):
        check_marc21(record)
    with pytest.raises(MarcImportError, match="UNIMARC"):
        record_from_marc(record, "HUS")


@pytest.mark.parametrize(
    ("index", "reason"),
    [(1, "broken leader"), (3, "broken directory"), (5, "malformed leader or directory")],
)
def test_broken_records_raise_readable_errors(fixtures_dir: Path, index: int, reason: str) -> None:
    chunk = _chunks(fixtures_dir / "marc" / "pymarc__bad_records.mrc")[index]
    with pytest.raises(MarcImportError, match=reason):
        decode_iso2709(chunk)


def test_record_without_001_gets_a_stable_content_id(fixtures_dir: Path) -> None:
    chunks = _chunks(fixtures_dir / "marc" / "pymarc__bad_records.mrc")
    one, again = decode_iso2709(chunks[0]), decode_iso2709(chunks[0])
    assert one.get("001") is None
    assert local_identifier(one).startswith("content-")
    assert local_identifier(one) == local_identifier(again)
    assert record_from_marc(one, "HUS").oai_identifier == f"marc:{local_identifier(one)}"
    again.add_field(Field(tag="500", indicators=Indicators(" ", " "), subfields=[Subfield("a", "x")]))
    assert local_identifier(again) != local_identifier(one)
    # the transaction timestamp does not change identity: a re-export keeps its id
    stamped = decode_iso2709(chunks[0])
    stamped.add_field(Field(tag="005", data="20240101120000.0"))
    assert local_identifier(stamped) == local_identifier(one)


def _vietnamese_thesis() -> pymarc.Record:
    nfd = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731 - real exports send decomposed text
    record = pymarc.Record(leader="00000nam a2200000 a 4500")
    record.add_field(
        Field(tag="001", data="LV-2019-001"),
        Field(tag="003", data="VNU"),
        Field(tag="008", data="190502s2019    vm a     m    000 0 vie d"),
        Field("020", Indicators(" ", " "), [Subfield("a", "978-604-00-0238-9 (bìa mềm)")]),
        Field(
            "100", Indicators("0", " "), [Subfield("a", nfd("Nguyễn Thị Hồng,")), Subfield("e", "tác giả")]
        ),
        Field(
            "245",
            Indicators("1", "0"),
            [Subfield("a", nfd("Lịch sử Việt Nam :")), Subfield("b", nfd("thời kỳ đổi mới /"))],
        ),
        Field("264", Indicators(" ", "1"), [Subfield("b", nfd("Đại học Quốc gia,")), Subfield("c", "2019.")]),
        Field("502", Indicators(" ", " "), [Subfield("a", nfd("Luận văn thạc sĩ"))]),
        Field(
            "650",
            Indicators(" ", "7"),
            [Subfield("a", nfd("Lịch sử")), Subfield("z", "Việt Nam"), Subfield("y", "1986-")],
        ),
        Field("856", Indicators("4", "0"), [Subfield("u", "https://doi.org/10.1000/ABC")]),
        Field("856", Indicators("4", "0"), [Subfield("u", "http://hdl.handle.net/123456789/42")]),
    )
    return record


def test_vietnamese_record_is_nfc_and_fully_mapped() -> None:
    record = record_from_marc(_vietnamese_thesis(), "HUS")
    assert record.title == "Lịch sử Việt Nam" and unicodedata.is_normalized("NFC", record.title)
    assert record.subtitle == "thời kỳ đổi mới"
    assert record.authors == ["Nguyễn Thị Hồng"]  # relator term $e is not part of the name
    assert record.publisher == "Đại học Quốc gia"
    assert (record.year, record.language, record.type) == (2019, "vie", "thesis")
    assert record.subjects == ["Lịch sử -- Việt Nam -- 1986-"]
    assert record.identifiers.isbn == ["9786040002389"]
    assert record.identifiers.doi == ["10.1000/abc"]
    assert record.identifiers.handle == ["123456789/42"]
    assert "https://doi.org/10.1000/ABC" in record.identifiers.urls
    assert record.oai_identifier == "marc:VNU:LV-2019-001"
    assert unicodedata.is_normalized("NFC", record.raw)


def test_marcxml_namespace_prefix_and_no_namespace(fixtures_dir: Path) -> None:
    prefixed = (fixtures_dir / "marc" / "filemarc__namespace.xml").read_bytes()
    assert b"<marc:record" in prefixed
    record = record_from_marcxml(prefixed, "HUS")
    assert record.raw_format == "marcxml" and record.title
    bare = record_from_marcxml((fixtures_dir / "marc" / "recordmanager__marc-broken.xml").read_bytes(), "HUS")
    assert bare.oai_identifier == "marc:FI-HAMK:63"


def test_marcxml_without_leader_is_a_thesis(fixtures_dir: Path) -> None:
    record = record_from_marcxml(
        (fixtures_dir / "marc" / "nusl__vse_thesis_10_no_leader.xml").read_bytes(), "HUS"
    )
    assert record.title == "Vzory pro návrh uživatelského rozhraní"
    assert (record.type, record.language) == ("thesis", "ces")


def test_oai_marc21_records_from_alma(fixtures_dir: Path) -> None:
    root = parse_xml(
        (fixtures_dir / "oai" / "vufindharvest__alma_marc21_ListRecords_100.xml").read_bytes()
    ).root
    metadata = [e for e in root.iter() if isinstance(e.tag, str) and local_name(e) == "metadata"]
    assert len(metadata) == 100
    records = [record_from_marcxml(m, "HUS", f"oai:alma:{i}") for i, m in enumerate(metadata)]
    assert [r.oai_identifier for r in records[:2]] == ["oai:alma:0", "oai:alma:1"]
    assert sum(1 for r in records if r.title) >= 95
    assert all(r.raw_format == "marcxml" for r in records)


@pytest.mark.parametrize("code", ["", "ab", "\u00e9"])
def test_marcxml_with_invalid_subfield_code_is_refused(code: str) -> None:
    from lxml import etree

    xml = (
        '<record xmlns="http://www.loc.gov/MARC21/slim"><controlfield tag="001">1</controlfield>'
        f'<datafield tag="245" ind1="0" ind2="0"><subfield code="{code}">Tựa đề</subfield>'
        "</datafield></record>"
    )
    with pytest.raises(MarcImportError, match="invalid code"):
        pymarc_from_marcxml(etree.fromstring(xml))
    valid = pymarc_from_marcxml(etree.fromstring(xml.replace(f'code="{code}"', 'code="a"')))
    assert record_from_marc(valid, "HUS").title == "Tựa đề"


def test_no_marc_record_in_xml_is_an_error() -> None:
    with pytest.raises(MarcImportError, match="no MARCXML"):
        record_from_marcxml(b"<dc><title>x</title></dc>", "HUS")
