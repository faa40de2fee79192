"""Analysis: tokens, folding and identifier normalisation (pure functions)."""

from __future__ import annotations

import unicodedata

import pytest

from search.analysis import (
    analyse_field,
    exact_text,
    fold,
    folded_text,
    normalise,
    normalise_doi,
    normalise_isbn,
    normalise_issn,
    tokens,
)


def test_tokens_are_nfc_lower_case_letters_and_digits() -> None:
    expected = ["khoa", "học", "máy", "tính", "nhập", "môn", "2020"]
    assert tokens("Khoa Học Máy Tính: nhập-môn (2020)") == expected
    assert tokens("snake_case & C++") == ["snake", "case", "c"]
    assert tokens(unicodedata.normalize("NFD", "Thư Viện")) == ["thư", "viện"]
    assert tokens("") == []


@pytest.mark.parametrize(
    ("token", "folded"),
    [
        ("thư", "thu"),
        ("viện", "vien"),
        ("đ", "d"),
        ("đại", "dai"),
        ("Đà", "Da"),
        ("củng", "cung"),
        ("cũng", "cung"),
        ("nghĩa", "nghia"),
        ("müller", "muller"),
        ("abc123", "abc123"),
    ],
)
def test_fold_removes_diacritics(token: str, folded: str) -> None:
    assert fold(token) == folded
    assert fold(unicodedata.normalize("NFD", token)) == folded


def test_nfc_and_nfd_analyse_the_same() -> None:
    text = "Củng cố kiến thức Đà Nẵng"
    assert analyse_field(unicodedata.normalize("NFD", text)) == analyse_field(text)
    assert exact_text(text) == "củng cố kiến thức đà nẵng"
    assert folded_text(text) == "cung co kien thuc da nang"
    assert unicodedata.is_normalized("NFC", exact_text(unicodedata.normalize("NFD", text)))


def test_analyse_field_joins_lists_and_handles_none() -> None:
    expected = ("nguyễn văn an trần bình", "nguyen van an tran binh")
    assert analyse_field(["Nguyễn Văn An", "Trần Bình"]) == expected
    assert analyse_field(None) == ("", "")
    assert normalise("ĐÀ NẴNG") == "đà nẵng"


def test_identifiers() -> None:
    assert normalise_isbn("0-262-03384-4") == "9780262033848"
    assert normalise_isbn("978-0-262-03384-8") == "9780262033848"
    assert normalise_isbn("0-262-03384-5") is None
    assert normalise_issn("00280836") == "0028-0836"
    assert normalise_issn("0028-0837") is None
    assert normalise_doi("https://doi.org/10.1038/NATURE14539") == "10.1038/nature14539"
    assert normalise_doi("doi: 10.1000/ABC") == "10.1000/abc"
    assert normalise_doi("nature14539") is None
