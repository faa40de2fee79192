"""The query parser: structure of the parsed tree, and clear errors with positions."""

from __future__ import annotations

import unicodedata

import pytest

from schemas.errors import QuerySyntaxError
from search.query import parse_query
from search.query_ast import TEXT_FIELD, And, Keyword, MatchAll, Not, Or, Term, YearRange


def t(field: str, exact: str, folded: str, phrase: bool = False, prefix: bool = False) -> Term:
    return Term(TEXT_FIELD[field], tuple(exact.split()), tuple(folded.split()), phrase=phrase, prefix=prefix)


def test_free_words_are_one_term() -> None:
    parsed = parse_query("Khoa học máy tính")
    assert parsed.root == t("any", "khoa học máy tính", "khoa hoc may tinh")
    assert parsed.positive_terms == (parsed.root,)
    assert parsed.text == "Khoa học máy tính"


def test_empty_and_punctuation_only_queries_match_all() -> None:
    assert parse_query("").root == MatchAll()
    assert parse_query("   ").root == MatchAll()
    assert parse_query("?? --").root == MatchAll()


def test_decomposed_input_is_normalised() -> None:
    assert parse_query(unicodedata.normalize("NFD", "thư viện")).root == t("any", "thư viện", "thu vien")


def test_fields_apply_to_the_next_word_phrase_or_group() -> None:
    assert parse_query("title:khoa học").root == And((t("title", "khoa", "khoa"), t("any", "học", "hoc")))
    assert parse_query('title:"khoa học"').root == t("title", "khoa học", "khoa hoc", phrase=True)
    assert parse_query("author:(Nguyễn Văn)").root == t("author", "nguyễn văn", "nguyen van")
    assert parse_query("subject: toán").root == t("subject", "toán", "toan")
    assert parse_query("TITLE:x").root == t("title", "x", "x")


def test_boolean_operators_and_precedence() -> None:
    a, b, c = t("any", "a", "a"), t("any", "b", "b"), t("any", "c", "c")
    assert parse_query("a OR b c").root == Or((a, t("any", "b c", "b c")))
    assert parse_query("a AND b OR c").root == Or((And((a, b)), c))
    assert parse_query("(a OR b) AND NOT c").root == And((Or((a, b)), Not(c)))
    assert parse_query("a NOT b").root == And((a, Not(b)))
    assert parse_query("NOT a").root == Not(a)
    assert parse_query("NOT NOT a").positive_terms == (a,)
    assert parse_query("a OR b OR c").root == Or((a, b, c))
    assert parse_query("a and b").root == t("any", "a and b", "a and b")  # lower-case: words
    assert parse_query("a NOT b").positive_terms == (a,)


def test_phrases_and_prefixes() -> None:
    assert parse_query('"máy tính"').root == t("any", "máy tính", "may tinh", phrase=True)
    assert parse_query('"khoa học máy t"*').root == t("any", "khoa học máy t", "khoa hoc may t", True, True)
    assert parse_query("comput*").root == t("any", "comput", "comput", prefix=True)
    assert parse_query("lập trìn*").root == t("any", "lập trìn", "lap trin", prefix=True)
    # A prefix word ends the run: the next word is a separate term.
    assert parse_query("comput* science").root == And(
        (t("any", "comput", "comput", prefix=True), t("any", "science", "science"))
    )


def test_keyword_fields_are_normalised() -> None:
    assert parse_query("isbn:0-262-03384-4").root == Keyword("isbn", "9780262033848")
    assert parse_query("isbn: 9780262033848").root == Keyword("isbn", "9780262033848")
    assert parse_query("issn:00280836").root == Keyword("issn", "0028-0836")
    assert parse_query("doi:https://doi.org/10.1002/(SICI)1097-4571").root == Keyword(
        "doi", "10.1002/(sici)1097-4571"
    )
    assert parse_query("(doi:10.1000/x)").root == Keyword("doi", "10.1000/x")
    assert parse_query("doi:doi:10.1000/X").root == Keyword("doi", "10.1000/x")
    assert parse_query("type:Thesis").root == Keyword("type", "thesis")
    assert parse_query("lang:vi").root == Keyword("lang", "vie")
    assert parse_query("lang:English").root == Keyword("lang", "eng")
    assert parse_query("member:vnu-hcm").root == Keyword("member", "vnu-hcm")
    either = Or((Keyword("type", "book"), Keyword("type", "thesis")))
    assert parse_query("type:(book OR thesis)").root == either


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("year:2015", YearRange(2015, 2015)),
        ("year:2015..2020", YearRange(2015, 2020)),
        ("year:..2000", YearRange(None, 2000)),
        ("year:2015..", YearRange(2015, None)),
        ("year:2015-2020", YearRange(2015, 2020)),
    ],
)
def test_years(q: str, expected: YearRange) -> None:
    assert parse_query(q).root == expected


def test_pasted_titles_with_colons_and_urls_are_words() -> None:
    assert parse_query("Python: a guide").root == t("any", "python a guide", "python a guide")
    assert parse_query("https://example.org/x").root == t("any", "https example org x", "https example org x")


@pytest.mark.parametrize(
    ("q", "position", "words"),
    [
        ('khoa "học máy', 5, "unclosed quote"),
        ("(a OR b", 0, "unclosed parenthesis"),
        ("a (b (c)", 2, "unclosed parenthesis"),
        ("a b)", 3, "unmatched ')'"),
        ("colour:red", 0, "unknown field 'colour:'"),
        ("a titel:b", 2, "unknown field 'titel:'"),
        ("year:2020..2015", 5, "bad year range"),
        ("year:abc", 5, "bad year"),
        ("year:..", 5, "bad year"),
        ("a AND", 2, "'AND' needs a term after it"),
        ("a OR", 2, "'OR' needs a term after it"),
        ("OR a", 0, "'OR' needs a term before it"),
        ("a AND OR b", 2, "'AND' needs a term after it"),
        ("NOT", 0, "'NOT' needs a term after it"),
        ("a NOT )", 2, "'NOT' needs a term after it"),
        ("()", 0, "empty parentheses"),
        ("title:", 0, "needs a value"),
        ("title: OR x", 0, "needs a value"),
        ("title:??", 0, "no searchable words"),
        ("isbn:12345", 5, "invalid ISBN '12345'"),
        ("x issn:1234-5678", 7, "invalid ISSN"),
        ("doi:abc", 4, "invalid DOI"),
        ("type:poem", 5, "unknown type 'poem'"),
        ("co*mputer", 2, "only allowed at the end"),
        ("*", 0, "needs a few letters"),
        ("(" * 400 + "a" + ")" * 400, 20, "nested more than 20 levels"),
        ("a " + "NOT " * 100 + "b", 82, "nested more than 20 levels"),
    ],
)
def test_syntax_errors_say_what_and_where(q: str, position: int, words: str) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        parse_query(q)
    assert err.value.position == position
    assert words in err.value.detail
    assert err.value.query == q
    assert err.value.to_problem()["position"] == position
