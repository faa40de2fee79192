"""Pure mapping of a work's stored records to its search document (the search document is the work).

The store clusters records of the same edition held by several members into one work
(``store/clusters.py``); the index holds one document per work, grouped at index time as VuFind does
with RecordManager's deduplicated records. The document shows the work's *fullest* record (most
fields filled in; ties by record id), carries the union of its records' identifiers and subjects,
and analyses every distinct title and author name of its records, so a search matching any member's
record of the work finds the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schemas.record import Record
from schemas.search import IndexDocument, RecordRef
from schemas.text import fold_all
from schemas.work import fullness
from search.analysis import tokens

# Leading articles do not make two titles sort apart.
_ARTICLES = ("the ", "a ", "an ")


def _without_article(title: str) -> str:
    for article in _ARTICLES:
        if title.startswith(article):
            return title[len(article) :]
    return title


def _title_tokens(record: Record) -> list[str]:
    return tokens(" ".join(p for p in (record.title, record.subtitle) if p))


def fullest_index(records: Sequence[tuple[str, Record]]) -> int:
    """Position in ``records`` of the fullest one: most fields filled, ties to the least record id."""
    if len(records) == 1:  # most works: nothing to compare
        return 0
    return min(range(len(records)), key=lambda i: (-fullness(records[i][1]), records[i][0]))


def record_ref(record_id: str, record: Record) -> RecordRef:
    """What the index keeps of one record of a work (enough for its holdings and OPAC link)."""
    ids = record.identifiers
    return RecordRef(
        record_id=record_id,
        member=record.member,
        oai_identifier=record.oai_identifier,
        local_id=ids.local_id,
        isbn=ids.isbn[0] if ids.isbn else None,
    )


def _distinct(first: list[str], others: Iterable[list[str]]) -> tuple[list[str], list[str]]:
    """``(exact, folded)`` tokens: ``first``, then each other token list whose exact (respectively
    folded) words are not already there as a run, so a variant differing only in diacritics adds its
    exact form without counting its folded words twice, and a title without the subtitle another
    record gives adds nothing (its words already match, as a phrase too)."""
    exact, folded = list(first), fold_all(first)
    have_exact, have_folded = f" {' '.join(exact)} ", f" {' '.join(folded)} "
    for toks in others:
        if not toks:
            continue
        key = f" {' '.join(toks)} "
        if key not in have_exact:
            have_exact += key[1:]
            exact.extend(toks)
        folded_toks = fold_all(toks)
        fkey = f" {' '.join(folded_toks)} "
        if fkey not in have_folded:
            have_folded += fkey[1:]
            folded.extend(folded_toks)
    return exact, folded


def work_document(work_id: str, seq: int, records: Sequence[tuple[str, Record]]) -> IndexDocument:
    """The search document of a work from its live records ``(record id, record)`` (oldest first).

    Raises ``ValueError`` for a work without records (the indexer deletes such a work instead).
    """
    if not records:
        raise ValueError(f"work {work_id} has no live record to index")
    best = fullest_index(records)
    full = records[best][1]
    others = [rec for i, (_, rec) in enumerate(records) if i != best]
    title = _title_tokens(full)
    author_lists = [tokens(a) for a in full.authors]
    subjects = list(dict.fromkeys(full.subjects))
    ids = full.identifiers
    isbn, issn, doi = list(ids.isbn), list(ids.issn), list(ids.doi)
    if others:
        title_exact, title_folded = _distinct(title, (_title_tokens(r) for r in others))
        authors_exact, authors_folded = _distinct(
            [t for toks in author_lists for t in toks], (tokens(a) for r in others for a in r.authors)
        )
        for other in others:
            subjects.extend(s for s in other.subjects if s not in subjects)
            oids = other.identifiers
            isbn.extend(v for v in oids.isbn if v not in isbn)
            issn.extend(v for v in oids.issn if v not in issn)
            doi.extend(v for v in oids.doi if v not in doi)
    else:
        title_exact = title
        title_folded = fold_all(title)
        authors_exact = [t for toks in author_lists for t in toks]
        authors_folded = fold_all(authors_exact)
    subjects_exact = tokens(" ; ".join(subjects))
    subjects_folded = fold_all(subjects_exact)
    rest = tokens(" ".join(p for p in (full.abstract, full.publisher) if p))
    # text = titles + authors + subjects + abstract + publisher; the parts analysed for their own
    # fields are reused rather than tokenised and folded a second time.
    text_exact = title_exact + authors_exact + subjects_exact + rest
    text_folded = title_folded + authors_folded + subjects_folded + fold_all(rest)
    return IndexDocument(
        id=work_id,
        seq=seq,
        member=sorted({rec.member for _, rec in records}),
        records=[record_ref(rid, rec) for rid, rec in records],
        title=full.title,
        subtitle=full.subtitle,
        authors=full.authors,
        subjects=subjects,
        abstract=full.abstract,
        publisher=full.publisher,
        year=full.year,
        language=full.language,
        type=full.type,
        isbn=isbn,
        issn=issn,
        doi=doi,
        # the full record's own title, folded: the first tokens of ``title_folded`` (see _distinct)
        title_sort=_without_article(" ".join(title_folded[: len(title)])),
        title_exact=" ".join(title_exact),
        title_folded=" ".join(title_folded),
        author_exact=" ".join(authors_exact),
        author_folded=" ".join(authors_folded),
        subject_exact=" ".join(subjects_exact),
        subject_folded=" ".join(subjects_folded),
        text_exact=" ".join(text_exact),
        text_folded=" ".join(text_folded),
    )


def to_document(doc_id: str, seq: int, record: Record) -> IndexDocument:
    """The search document of a work of one record (tests and benchmarks index records this way)."""
    return work_document(doc_id, seq, [(doc_id, record)])
