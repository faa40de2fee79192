"""Test helpers: build IndexDocuments the way the indexer does, and a reference model of the semantics.

The reference model (``ref_matches``, ``ref_facets``) evaluates ``search.semantics`` in plain Python over
the fixture documents, so the conformance tests can state what every backend must answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from schemas.search import FacetValue, IndexDocument, RecordRef, SearchFilters
from search.analysis import analyse_field, folded_text, normalise_doi, normalise_isbn, normalise_issn
from search.query_ast import And, Keyword, MatchAll, Node, Not, Or, Term, YearRange


def make_doc(
    id: str,
    title: str | None,
    *,
    member: str | Sequence[str] = "hanoi-nl",
    subtitle: str | None = None,
    authors: Sequence[str] = (),
    subjects: Sequence[str] = (),
    abstract: str | None = None,
    publisher: str | None = None,
    year: int | None = None,
    language: str | None = "vie",
    type: str = "book",
    isbn: Sequence[str] = (),
    issn: Sequence[str] = (),
    doi: Sequence[str] = (),
) -> IndexDocument:
    """An IndexDocument (a work) with analysed fields filled as ``search.semantics`` describes.

    ``member``: the code of the member holding it, or the codes of several (one record each).
    """
    members = [member] if isinstance(member, str) else list(member)
    title_all = " ".join(t for t in (title, subtitle) if t)
    text = [title_all, *authors, *subjects, abstract or "", publisher or ""]
    te, tf = analyse_field(title_all)
    ae, af = analyse_field(list(authors))
    se, sf = analyse_field(list(subjects))
    xe, xf = analyse_field([t for t in text if t])
    return IndexDocument(
        id=id,
        member=sorted(set(members)),
        records=[
            RecordRef(record_id=f"{code}-{id}", member=code, oai_identifier=f"oai:{code}:{id}")
            for code in members
        ],
        title=title,
        subtitle=subtitle,
        authors=list(authors),
        subjects=list(subjects),
        abstract=abstract,
        publisher=publisher,
        year=year,
        language=language,
        type=type,
        isbn=[n for n in (normalise_isbn(v) for v in isbn) if n],
        issn=[n for n in (normalise_issn(v) for v in issn) if n],
        doi=[n for n in (normalise_doi(v) for v in doi) if n],
        title_sort=folded_text(title or ""),
        title_exact=te,
        title_folded=tf,
        author_exact=ae,
        author_folded=af,
        subject_exact=se,
        subject_folded=sf,
        text_exact=xe,
        text_folded=xf,
    )


_FIELD = {"any": "text", "title": "title", "author": "author", "subject": "subject"}


def _term_matches(toks: list[str], want: tuple[str, ...], phrase: bool, prefix: bool) -> bool:
    def eq(have: str, i: int) -> bool:
        return have.startswith(want[i]) if prefix and i == len(want) - 1 else have == want[i]

    if phrase:
        return any(
            all(eq(toks[s + i], i) for i in range(len(want))) for s in range(len(toks) - len(want) + 1)
        )
    return all(any(eq(t, i) for t in toks) for i in range(len(want)))


def ref_matches(node: Node, doc: IndexDocument, exact: bool = False) -> bool:
    """Whether ``doc`` matches ``node`` under the shared semantics."""
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, Term):
        col = f"{_FIELD[node.field]}_{'exact' if exact else 'folded'}"
        want = node.exact if exact else node.folded
        return _term_matches(getattr(doc, col).split(), want, node.phrase, node.prefix)
    if isinstance(node, Keyword):
        if node.field in {"isbn", "issn", "doi", "member"}:
            return node.value in getattr(doc, node.field)
        return getattr(doc, {"lang": "language"}.get(node.field, node.field)) == node.value
    if isinstance(node, YearRange):
        return (
            doc.year is not None
            and (node.start is None or doc.year >= node.start)
            and (node.end is None or doc.year <= node.end)
        )
    if isinstance(node, And):
        return all(ref_matches(i, doc) for i in node.items)
    if isinstance(node, Or):
        return any(ref_matches(i, doc) for i in node.items)
    if isinstance(node, Not):
        return not ref_matches(node.item, doc)
    raise TypeError(node)


def ref_filter(f: SearchFilters, doc: IndexDocument) -> bool:
    """Whether ``doc`` passes the request filters."""
    checks = [
        not f.member or bool(set(f.member) & set(doc.member)),
        not f.type or doc.type in f.type,
        not f.language or doc.language in f.language,
        not f.subject or bool(set(f.subject) & set(doc.subjects)),
        f.year_from is None or (doc.year is not None and doc.year >= f.year_from),
        f.year_to is None or (doc.year is not None and doc.year <= f.year_to),
    ]
    return all(checks)


def ref_facets(docs: Iterable[IndexDocument], size: int = 10) -> dict[str, list[FacetValue]]:
    """Facet counts of ``docs`` as the semantics define them."""
    docs = list(docs)
    out: dict[str, list[FacetValue]] = {}
    members = Counter(m for d in docs for m in set(d.member))
    out["member"] = [
        FacetValue(value=v, count=c) for v, c in sorted(members.items(), key=lambda x: (-x[1], x[0]))
    ][:size]
    for name, attr in (("type", "type"), ("language", "language")):
        counts = Counter(getattr(d, attr) for d in docs if getattr(d, attr) is not None)
        ordered = sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:size]
        out[name] = [FacetValue(value=v, count=c) for v, c in ordered]
    subjects = Counter(s for d in docs for s in set(d.subjects))
    out["subject"] = [
        FacetValue(value=v, count=c) for v, c in sorted(subjects.items(), key=lambda x: (-x[1], x[0]))
    ][:size]
    years = Counter(d.year for d in docs if d.year is not None)
    out["year"] = [FacetValue(value=str(y), count=c) for y, c in sorted(years.items())]
    return out
