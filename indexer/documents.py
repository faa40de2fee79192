"""Pure mapping of stored records to search documents, including the work key used for clustering."""

from __future__ import annotations

import re

from schemas.record import Record
from schemas.search import IndexDocument
from search.analysis import fold, folded_text, tokens

# Leading articles do not make two titles different works, nor sort them apart.
_ARTICLES = ("the ", "a ", "an ")

# The commonest Vietnamese family names (folded). A name without a comma whose first word is one of
# these is in Vietnamese order (family name first); other comma-less names are taken as Western
# ("John Smith"), family name last.
_VI_FAMILY = {
    "nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do", "ho",
    "ngo", "duong", "ly", "dinh", "trinh", "truong", "lam", "mai", "cao", "ta", "doan", "luong",
}  # fmt: skip
_LIFE_DATES = re.compile(r"\d{3,4}\s*-\s*(\d{3,4})?")


def family_name(author: str) -> str:
    """The folded family name of a heading: before the comma, else by word order (``_VI_FAMILY``)."""
    if "," in author:
        return folded_text(author.split(",", 1)[0])
    words = folded_text(_LIFE_DATES.sub(" ", author)).split()
    if not words:
        return ""
    if words[0] in _VI_FAMILY or len(words) == 1:
        return words[0]
    return words[-1]


def work_key(record: Record, title_sort: str | None = None) -> str:
    """A key shared by the same work held by different members, for clustering search results.

    ISBN-13 ("isbn:..."), else DOI ("doi:..."), else the ISSN of a journal ("issn:..."; an article's
    ISSN names its journal, not the article, so it must not merge a journal's articles); otherwise the
    folded title, the first author's family name and the year: "t:<title>|<family>|<year>", so that
    "Thư viện số" by "Nguyễn Văn An" (2019) clusters with a member's "Thu vien so" by "Nguyen, Van An".
    The smallest identifier is used so members listing a book's ISBNs in another order still agree; a
    record with no title and no identifier gets a key of its own rather than merging with every other
    untitled record. ``title_sort`` is the record's ``title_sort_key`` when the caller has it already.
    """
    ids = record.identifiers
    if ids.isbn:
        return "isbn:" + min(ids.isbn)
    if ids.doi:
        return "doi:" + min(ids.doi)
    if ids.issn and record.type == "journal":
        return "issn:" + min(ids.issn)
    title = title_sort_key(record) if title_sort is None else title_sort
    if not title:
        return "id:" + record.id
    family = family_name(record.authors[0]) if record.authors else ""
    return f"t:{title}|{family}|{record.year or ''}"


def title_sort_key(record: Record) -> str:
    """Folded title (with subtitle) without a leading article or punctuation, for sorting and keys."""
    return _without_article(folded_text(" ".join(p for p in (record.title, record.subtitle) if p)))


def _without_article(title: str) -> str:
    for article in _ARTICLES:
        if title.startswith(article):
            return title[len(article) :]
    return title


def to_document(record_id: str, seq: int, record: Record) -> IndexDocument:
    """The search document of one live record."""
    title = tokens(" ".join(p for p in (record.title, record.subtitle) if p))
    authors = tokens(" ; ".join(record.authors))
    subjects = tokens(" ; ".join(record.subjects))
    rest = tokens(" ".join(p for p in (record.abstract, record.publisher) if p))
    # text = title + authors + subjects + abstract + publisher. The tokens of space-joined parts are
    # the parts' tokens in order (NFC and lower-casing never reach across a space), so the parts
    # analysed for their own fields are reused rather than tokenised and folded a second time.
    title_folded, authors_folded, subjects_folded = (
        [fold(t) for t in title],
        [fold(t) for t in authors],
        [fold(t) for t in subjects],
    )
    text = title + authors + subjects + rest
    text_folded = title_folded + authors_folded + subjects_folded + [fold(t) for t in rest]
    title_sort = _without_article(" ".join(title_folded))  # = title_sort_key(record)
    ids = record.identifiers
    return IndexDocument(
        id=record_id,
        seq=seq,
        member=record.member,
        oai_identifier=record.oai_identifier,
        title=record.title,
        subtitle=record.subtitle,
        authors=record.authors,
        subjects=record.subjects,
        abstract=record.abstract,
        publisher=record.publisher,
        year=record.year,
        language=record.language,
        type=record.type,
        isbn=ids.isbn,
        issn=ids.issn,
        doi=ids.doi,
        work_key=work_key(record, title_sort),
        title_sort=title_sort,
        title_exact=" ".join(title),
        title_folded=" ".join(title_folded),
        author_exact=" ".join(authors),
        author_folded=" ".join(authors_folded),
        subject_exact=" ".join(subjects),
        subject_folded=" ".join(subjects_folded),
        text_exact=" ".join(text),
        text_folded=" ".join(text_folded),
    )
