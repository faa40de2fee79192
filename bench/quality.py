"""Known-item search quality: can a researcher typing a few title syllables find the record?

Indexes ~2,000 demo records (``app.demo.generator``), picks ~200 known items and types the most
distinctive 3-4 consecutive words of each title four ways (as written, without diacritics,
decomposed NFD, lower-case). Prints success@1 and success@10 per backend beside a naive baseline
(exact raw tokens, no Unicode normalisation or folding). A hit counts when its title equals the known
item's title (the demo holds some works at several members).

    .venv/bin/python bench/quality.py [--es URL | --start-node] [--records 2000] [--items 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.demo.generator import generate
from app.demo.members import DEMO_MEMBERS
from schemas.search import IndexDocument, SearchRequest
from search.analysis import (
    analyse_field,
    fold,
    folded_text,
    normalise,
    normalise_doi,
    normalise_isbn,
    normalise_issn,
)
from search.backend import SearchBackend
from search.service import SearchService
from search.tantivy_index import TantivyBackend

if TYPE_CHECKING:
    from search.elastic import ElasticBackend

VARIANTS: dict[str, Callable[[str], str]] = {
    "as written": lambda s: s,
    "no diacritics": lambda s: " ".join(fold(w) for w in s.split()),
    "decomposed NFD": lambda s: unicodedata.normalize("NFD", s),
    "lower-case": str.lower,
}


def demo_documents(limit: int) -> list[IndexDocument]:
    """Up to ``limit`` live demo records of every member, as index documents."""
    docs: list[IndexDocument] = []
    per_member = max(1, limit // len(DEMO_MEMBERS) + 1)
    for member in DEMO_MEMBERS:
        for n, rec in enumerate(r for r in generate(member.code) if not r.deleted):
            if n >= per_member:
                break
            title_all = " ".join(t for t in (rec.title, rec.subtitle) if t)
            te, tf = analyse_field(title_all)
            ae, af = analyse_field(list(rec.authors))
            se, sf = analyse_field(list(rec.subjects))
            text = [title_all, *rec.authors, *rec.subjects, rec.abstract or "", rec.publisher or ""]
            xe, xf = analyse_field([t for t in text if t])
            isbn = normalise_isbn(rec.isbn) if rec.isbn else None
            issn = normalise_issn(rec.issn) if rec.issn else None
            doi = normalise_doi(rec.doi) if rec.doi else None
            docs.append(
                IndexDocument(
                    id=f"{member.code.lower()}-{rec.local_id}",
                    member=[member.code],  # one document per record here: a work of one record
                    title=rec.title,
                    subtitle=rec.subtitle,
                    authors=list(rec.authors),
                    subjects=list(rec.subjects),
                    abstract=rec.abstract,
                    publisher=rec.publisher,
                    year=rec.year,
                    language=rec.language,
                    type=rec.kind,
                    isbn=[isbn] if isbn else [],
                    issn=[issn] if issn else [],
                    doi=[doi] if doi else [],
                    title_sort=folded_text(rec.title),
                    title_exact=te,
                    title_folded=tf,
                    author_exact=ae,
                    author_folded=af,
                    subject_exact=se,
                    subject_folded=sf,
                    text_exact=xe,
                    text_folded=xf,
                )
            )
    return docs[:limit]


def known_items(docs: Sequence[IndexDocument], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(doc id, 3-4 consecutive title words as written) for ``count`` random records.

    Researchers remember the distinctive part of a title, not "tại tỉnh ...": of all windows, the one
    shared by the fewest titles is typed (ties broken at random).
    """
    titles = [f" {d.title_folded} " for d in docs]
    out: list[tuple[str, str]] = []
    for doc in rng.sample(list(docs), min(count, len(docs))):
        words = unicodedata.normalize("NFC", doc.title or "").split()
        if len(words) < 2:
            continue
        windows = [" ".join(words[i : i + w]) for w in (3, 4) for i in range(max(1, len(words) - w + 1))]
        rng.shuffle(windows)
        best = min(windows, key=lambda q: sum(f" {folded_text(q)} " in t for t in titles))
        out.append((doc.id, best))
    return out


class Naive:
    """Baseline: raw lower-case tokens (no NFC, no folding), all must occur; title hits rank first."""

    def __init__(self, docs: Sequence[IndexDocument]) -> None:
        self.docs = [
            (
                d,
                set(self._toks(d.title or "")),
                set(
                    self._toks(
                        " ".join([d.title or "", d.subtitle or "", *d.authors, *d.subjects, d.abstract or ""])
                    )
                ),
            )
            for d in docs
        ]

    @staticmethod
    def _toks(text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    def search(self, q: str, k: int) -> list[IndexDocument]:
        want = self._toks(q)
        found = [
            (-sum(t in title for t in want), len(d.title or ""), d.id, d)
            for d, title, text in self.docs
            if want and all(t in text for t in want)
        ]
        return [d for *_, d in sorted(found, key=lambda x: x[:3])[:k]]


def _found(target: IndexDocument, hits: Sequence[IndexDocument | object], k: int) -> bool:
    want = normalise(target.title or "")
    return any(normalise(getattr(h, "title", "") or "") == want for h in hits[:k])


async def evaluate(
    service: SearchService | Naive, docs: dict[str, IndexDocument], items: list[tuple[str, str]]
) -> dict[str, tuple[float, float]]:
    """success@1 and success@10 per typing variant."""
    out: dict[str, tuple[float, float]] = {}
    for name, variant in VARIANTS.items():
        at1 = at10 = 0
        for doc_id, words in items:
            q = variant(words)
            if isinstance(service, Naive):
                hits: Sequence[object] = service.search(q, 10)
            else:
                response = await service.search(SearchRequest(q=q, size=10, facets=[], highlight=False))
                hits = response.hits
            at1 += _found(docs[doc_id], hits, 1)
            at10 += _found(docs[doc_id], hits, 10)
        out[name] = (at1 / len(items), at10 / len(items))
    return out


async def run(es_url: str | None, records: int, items: int, seed: int) -> None:
    docs = demo_documents(records)
    by_id = {d.id: d for d in docs}
    known = known_items(docs, items, random.Random(seed))
    results: dict[str, dict[str, tuple[float, float]]] = {"naive": await evaluate(Naive(docs), by_id, known)}
    backends: list[tuple[str, SearchBackend]] = []
    es: ElasticBackend | None = None
    with tempfile.TemporaryDirectory() as tmp:
        tantivy = TantivyBackend(Path(tmp) / "tantivy")
        await tantivy.open()
        backends.append(("tantivy", tantivy))
        if es_url:
            from search.elastic import ElasticBackend

            es = ElasticBackend(es_url, alias=f"quality-{uuid.uuid4().hex[:8]}")
            await es.open()
            backends.append(("elasticsearch", es))
        try:
            for name, backend in backends:
                await backend.bulk(docs)
                await backend.refresh()
                results[name] = await evaluate(SearchService(backend), by_id, known)
        finally:
            if es is not None:
                for index in await es.list_indexes():
                    await es.client.indices.delete(index=index)
            for _, backend in backends:
                await backend.close()
    print(f"{len(docs)} records, {len(known)} known items (3-4 title words each)\n")
    header = f"{'typed':<16}" + "".join(f"{n + ' @1':>20}{n + ' @10':>20}" for n in results)
    print(header)
    print("-" * len(header))
    for variant in VARIANTS:
        row = f"{variant:<16}"
        for scores in results.values():
            at1, at10 = scores[variant]
            row += f"{at1:>20.1%}{at10:>20.1%}"
        print(row)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--es", metavar="URL", help="also measure an Elasticsearch/OpenSearch node")
    parser.add_argument(
        "--start-node", action="store_true", help="start the test search node and measure it (needs JDK 21+)"
    )
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.start_node and not args.es:
        from tests.search_node import start_node

        node = start_node()
        try:
            asyncio.run(run(node.url, args.records, args.items, args.seed))
        finally:
            node.stop()
        return
    asyncio.run(run(args.es, args.records, args.items, args.seed))


if __name__ == "__main__":
    main()
