"""Normalisation of text, identifiers, languages, years, types and work keys."""

from __future__ import annotations

import unicodedata

import pytest

from harvesters.normalise import (
    classify_identifier,
    extract_year,
    fold,
    language_code,
    nfc,
    normalise_doi,
    normalise_handle,
    normalise_isbn,
    normalise_issn,
    record_type,
)
from schemas.record import RECORD_TYPES

DECOMPOSED = unicodedata.normalize("NFD", "Lịch sử Việt Nam")


def test_nfc_makes_decomposed_vietnamese_equal_precomposed() -> None:
    assert DECOMPOSED != "Lịch sử Việt Nam"
    assert nfc(DECOMPOSED) == "Lịch sử Việt Nam"


def test_nfc_collapses_whitespace_and_control_characters() -> None:
    assert nfc("  Đại\x1fhọc\n\t Huế \u200b ") == "Đại học Huế"


@pytest.mark.parametrize("value", [None, "", "   ", "\x00\x1e"])
def test_nfc_empty_is_none(value: str | None) -> None:
    assert nfc(value) is None


def test_fold_removes_diacritics_including_d_stroke() -> None:
    assert fold("Đường Kách Mệnh: tập 2!") == "duong kach menh tap 2"
    assert fold(DECOMPOSED) == "lich su viet nam"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("978-0-306-40615-7", "9780306406157"),
        ("0-306-40615-2", "9780306406157"),
        ("0306406152 (pbk.)", "9780306406157"),
        ("ISBN 978 0 306 40615 7 : 45000đ", "9780306406157"),
        ("9786040002389 (bìa mềm)", "9786040002389"),
        ("080442957X", "9780804429573"),
        ("978-0-306-40615-8", None),  # wrong check digit
        ("0306406153", None),
        ("(pbk.)", None),
        ("", None),
    ],
)
def test_normalise_isbn(value: str, expected: str | None) -> None:
    assert normalise_isbn(value) == expected


def test_normalise_isbn_skips_an_invalid_candidate_for_a_valid_one() -> None:
    assert normalise_isbn("1234567890 ; 0-306-40615-2") == "9780306406157"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0378-5955", "0378-5955"),
        ("ISSN 03785955", "0378-5955"),
        ("1050-124x", "1050-124X"),
        ("0378-5954", None),
    ],
)
def test_normalise_issn(value: str, expected: str | None) -> None:
    assert normalise_issn(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("doi:10.1038/NPHYS1170", "10.1038/nphys1170"),
        ("https://doi.org/10.1000/ABC.1", "10.1000/abc.1"),
        ("http://dx.doi.org/10.1000%2Fxyz", "10.1000/xyz"),
        ("info:doi/10.1000/x", "10.1000/x"),
        ("10.1000/x", "10.1000/x"),
        ("11.1000/x", None),
        ("doi:", None),
    ],
)
def test_normalise_doi(value: str, expected: str | None) -> None:
    assert normalise_doi(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://hdl.handle.net/1721.1/123", "1721.1/123"),
        ("https://hdl.handle.net/11126/4567?locatt=view:master", "11126/4567"),
        ("hdl:1765/315", "1765/315"),
        ("1721.1/123", "1721.1/123"),
        ("10.1000/x", None),  # that is a DOI
        ("not a handle", None),
    ],
)
def test_normalise_handle(value: str, expected: str | None) -> None:
    assert normalise_handle(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ISBN 978-0-306-40615-7", ("isbn", "9780306406157")),
        ("9780306406157", ("isbn", "9780306406157")),
        ("urn:ISSN:0378-5955", ("issn", "0378-5955")),
        ("0378-5955", ("issn", "0378-5955")),
        ("info:doi/10.1000/X", ("doi", "10.1000/x")),
        ("https://doi.org/10.1000/x", ("doi", "10.1000/x")),
        ("http://hdl.handle.net/1721.1/123", ("handle", "1721.1/123")),
        ("hdl:1765/315", ("handle", "1765/315")),
        ("https://thuvien.example.vn/record/1", ("url", "https://thuvien.example.vn/record/1")),
        ("ISBN 978-0-306-40615-8", None),
        ("VV 12345", None),
        ("12345678", None),
        ("", None),
    ],
)
def test_classify_identifier(value: str, expected: tuple[str, str] | None) -> None:
    assert classify_identifier(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("vi", "vie"),
        ("vie", "vie"),
        ("Vietnamese", "vie"),
        ("Tiếng Việt", "vie"),
        (unicodedata.normalize("NFD", "tiếng việt"), "vie"),
        ("vi-VN", "vie"),
        ("en", "eng"),
        ("eng", "eng"),
        ("English", "eng"),
        ("en_US", "eng"),
        ("fre", "fra"),
        ("ger", "deu"),
        ("chi", "zho"),
        ("Tiếng Hàn", "kor"),
        ("Tiếng Hán", "zho"),
        ("Tiếng Pháp", "fra"),
        ("mul", "mul"),
        ("und", None),
        ("zz", None),
        ("", None),
        (None, None),
    ],
)
def test_language_code(value: str | None, expected: str | None) -> None:
    assert language_code(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019", 2019),
        ("2019-05-02", 2019),
        ("c1998.", 1998),
        ("[2005?]", 2005),
        ("1998-2001", 1998),
        ("Hà Nội, 2010", 2010),
        ("[199-?]", None),
        ("0999, 2020", 2020),
        ("3000", None),
        ("", None),
        (None, None),
    ],
)
def test_extract_year(value: str | None, expected: int | None) -> None:
    assert extract_year(value) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Thesis"], "thesis"),
        (["Luận văn"], "thesis"),
        (["Luận án tiến sĩ"], "thesis"),
        (["info:eu-repo/semantics/doctoralThesis"], "thesis"),
        (["Text", "info:eu-repo/semantics/masterThesis"], "thesis"),
        (["Article"], "article"),
        (["Journal Article"], "article"),
        (["Bài báo"], "article"),
        (["info:eu-repo/semantics/article"], "article"),
        (["Report"], "report"),
        (["Báo cáo"], "report"),
        (["Book"], "book"),
        (["Sách"], "book"),
        (["Conference paper"], "conference"),
        (["Kỷ yếu hội thảo"], "conference"),
        (["info:eu-repo/semantics/conferenceObject"], "conference"),
        (["Dataset"], "dataset"),
        (["Tạp chí"], "journal"),
        (["am"], "book"),
        (["as"], "journal"),
        (["ab"], "article"),
        (["Text"], "other"),
        ([], "other"),
    ],
)
def test_record_type(values: list[str], expected: str) -> None:
    assert record_type(values) == expected
    assert expected in RECORD_TYPES
