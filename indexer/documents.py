"""Pure mapping of stored records to search documents, including the work key used for clustering."""

from __future__ import annotations

from schemas.record import Record
from schemas.search import IndexDocument
from search.analysis import analyse_field, folded_text

# Leading articles do not make two titles different works, nor sort them apart.
_ARTICLES = ("the ", "a ", "an ")


def work_key(record: Record) -> str:
    """A key shared by the same item held by several members.

    Identifiers win (ISBN-13, then ISSN, then DOI); otherwise the folded title, the first author's
    folded surname-ish first token and the year, so that "Thư viện số" by "Nguyễn Văn A" (2019) from
    two members clusters even when one member typed it without diacritics.
    """
    ids = record.identifiers
    if ids.isbn:
        return f"isbn:{sorted(ids.isbn)[0]}"
    if ids.doi:
        return f"doi:{sorted(ids.doi)[0]}"
    if ids.issn and record.type == "journal":
        return f"issn:{sorted(ids.issn)[0]}"
    title = folded_text(" ".join(p for p in (record.title, record.subtitle) if p))
    for article in _ARTICLES:
        if title.startswith(article):
            title = title[len(article) :]
            break
    author = folded_text(record.authors[0]).split(" ")[0] if record.authors else ""
    return f"t:{title}|{author}|{record.year or ''}"


def title_sort_key(record: Record) -> str:
    """Folded title without leading articles and punctuation, for sorting by title."""
    title = folded_text(record.title or "")
    for article in _ARTICLES:
        if title.startswith(article):
            return title[len(article) :]
    return title


def to_document(record_id: str, seq: int, record: Record) -> IndexDocument:
    """The search document of one live record."""
    title = " ".join(p for p in (record.title, record.subtitle) if p)
    authors = " ; ".join(record.authors)
    subjects = " ; ".join(record.subjects)
    text = " ".join(
        p for p in (title, authors, subjects, record.abstract, record.publisher) if p
    )
    title_exact, title_folded = analyse_field(title)
    author_exact, author_folded = analyse_field(authors)
    subject_exact, subject_folded = analyse_field(subjects)
    text_exact, text_folded = analyse_field(text)
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
        work_key=work_key(record),
        title_sort=title_sort_key(record),
        title_exact=title_exact,
        title_folded=title_folded,
        author_exact=author_exact,
        author_folded=author_folded,
        subject_exact=subject_exact,
        subject_folded=subject_folded,
        text_exact=text_exact,
        text_folded=text_folded,
    )
