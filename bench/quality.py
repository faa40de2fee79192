"""Known-item search quality: can a researcher typing a few title syllables find the record?

Indexes ~2,000 demo records (``app.demo.generator``), picks ~200 known items and types the shortest
run of 3-6 consecutive title words naming only that title four ways (as written, without diacritics,
decomposed NFD, lower-case), and once more without diacritics with one slip of the finger in one word
(a swap of neighbours, an inserted or a substituted keyboard neighbour, a deleted letter). Prints
success@1 and success@10 per backend beside a naive baseline (exact raw tokens, no Unicode
normalisation or folding), how often the exact-diacritic queries put their own spelling first, and how
often ``corrected_query`` or ``suggestion`` is the intended query (diacritics aside). A hit counts when
its title equals the known item's title (the demo holds some works at several members).

    .venv/bin/python bench/quality.py [--es URL | --start-node] [--records 2000] [--items 200]
    .venv/bin/python bench/quality.py --latency 100000 [--es URL] [--items 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import tempfile
import time
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
    exact_text,
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


#: Neighbouring keys of a QWERTY keyboard (what a slipped finger types instead, or as well).
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
KEYBOARD: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _ch in enumerate(_row):
        near = [_row[_c - 1] if _c else "", _row[_c + 1] if _c + 1 < len(_row) else ""]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_ROWS):
                near += [_ROWS[_other][k] for k in (_c - 1, _c, _c + 1) if 0 <= k < len(_ROWS[_other])]
        KEYBOARD[_ch] = "".join(n for n in near if n)

SLIPS = ("swap", "insertion", "deletion", "substitution")


def slip(word: str, kind: str, rng: random.Random) -> str:
    """``word`` (folded, 2+ letters) with one slip of the finger of ``kind``."""
    i = rng.randrange(len(word))
    if kind == "swap":
        i = rng.randrange(len(word) - 1)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "deletion":
        return word[:i] + word[i + 1 :]
    near = KEYBOARD.get(word[i], "") or "aeiou"
    if kind == "insertion":  # a neighbour of the key meant, pressed with it
        return word[: i + 1] + rng.choice(near) + word[i + 1 :]
    return word[:i] + rng.choice(near) + word[i + 1 :]


def slipped(words: str, kind: str, rng: random.Random) -> str:
    """The words typed without diacritics, one of them (2+ letters) with one slip of ``kind``."""
    folded = folded_text(words).split()
    long_enough = [i for i, w in enumerate(folded) if len(w) >= 2]
    if not long_enough:
        return " ".join(folded)
    i = rng.choice(long_enough)
    while True:
        changed = slip(folded[i], kind, rng)
        if changed != folded[i]:
            folded[i] = changed
            return " ".join(folded)


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
    """(doc id, 3-6 consecutive title words as written) for ``count`` random records.

    Researchers remember the distinctive part of a title, not "tại tỉnh ...": the shortest window of
    3 to 6 words found in no other title is typed (ties broken at random). Records whose every such
    window is also part of another title (demo titles nest: "Ảnh hưởng ... tại Hà Nội" within "Báo
    cáo ...: Ảnh hưởng ... tại Hà Nội") are not known items: no query of their words names them.
    """
    titles = sorted({f" {d.title_folded} " for d in docs})
    out: list[tuple[str, str]] = []
    for doc in rng.sample(list(docs), len(docs)):
        if len(out) >= count:
            break
        words = unicodedata.normalize("NFC", doc.title or "").split()
        for width in (3, 4, 5, 6):
            windows = [" ".join(words[i : i + width]) for i in range(max(1, len(words) - width + 1))]
            unique = [q for q in windows if sum(f" {folded_text(q)} " in t for t in titles) == 1]
            if unique:
                out.append((doc.id, rng.choice(unique)))
                break
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


async def own_spelling_first(service: SearchService, items: list[tuple[str, str]]) -> float:
    """Share of queries typed with their diacritics whose first hit's title holds those exact words."""
    good = 0
    for _, words in items:
        response = await service.search(SearchRequest(q=words, size=1, facets=[], highlight=False))
        top = response.hits[0] if response.hits else None
        title = f" {exact_text(' '.join(t for t in (top.title, top.subtitle) if t))} " if top else ""
        good += f" {exact_text(words)} " in title
    return good / len(items)


async def evaluate_slips(
    service: SearchService | Naive,
    docs: dict[str, IndexDocument],
    slips: list[tuple[str, str, str, str]],
    timings: list[float] | None = None,
) -> dict[str, tuple[float, float, float]]:
    """success@1, success@10 and correction accuracy per kind of slip (and over all of them)."""
    counts: dict[str, list[int]] = {kind: [0, 0, 0, 0] for kind in (*SLIPS, "all slips")}
    for doc_id, words, kind, typed in slips:
        if isinstance(service, Naive):
            hits: Sequence[object] = service.search(typed, 10)
            told = None
        else:
            started = time.perf_counter()
            response = await service.search(SearchRequest(q=typed, size=10, facets=[], highlight=False))
            if timings is not None:
                timings.append(time.perf_counter() - started)
            hits = response.hits
            told = response.corrected_query or response.suggestion
        right = told is not None and folded_text(told) == folded_text(words)
        for key in (kind, "all slips"):
            c = counts[key]
            c[0] += _found(docs[doc_id], hits, 1)
            c[1] += _found(docs[doc_id], hits, 10)
            c[2] += right
            c[3] += 1
    return {k: (c[0] / c[3], c[1] / c[3], c[2] / c[3]) for k, c in counts.items() if c[3]}


async def run(es_url: str | None, records: int, items: int, seed: int) -> None:
    docs = demo_documents(records)
    by_id = {d.id: d for d in docs}
    rng = random.Random(seed)
    known = known_items(docs, items, rng)
    slips = [(doc_id, words, kind, slipped(words, kind, rng)) for doc_id, words in known for kind in SLIPS]
    results: dict[str, dict[str, tuple[float, float]]] = {"naive": await evaluate(Naive(docs), by_id, known)}
    slip_results = {"naive": await evaluate_slips(Naive(docs), by_id, slips)}
    own_first: dict[str, float] = {}
    timings: dict[str, list[float]] = {}
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
                service = SearchService(backend)
                results[name] = await evaluate(service, by_id, known)
                timings[name] = []
                slip_results[name] = await evaluate_slips(service, by_id, slips, timings[name])
                own_first[name] = await own_spelling_first(service, known)
        finally:
            if es is not None:
                for index in await es.list_indexes():
                    await es.client.indices.delete(index=index)
            for _, backend in backends:
                await backend.close()
    print(
        f"{len(docs)} records, {len(known)} known items (3-6 words naming one title), {len(slips)} slipped\n"
    )
    header = f"{'typed':<16}" + "".join(f"{n + ' @1':>20}{n + ' @10':>20}" for n in results)
    print(header)
    print("-" * len(header))
    for variant in VARIANTS:
        row = f"{variant:<16}"
        for scores in results.values():
            at1, at10 = scores[variant]
            row += f"{at1:>20.1%}{at10:>20.1%}"
        print(row)
    print()
    header = f"{'one slip':<16}" + "".join(
        f"{n + ' @1':>20}{n + ' @10':>20}{n + ' told':>20}" for n in slip_results
    )
    print(header)
    print("-" * len(header))
    for kind in (*SLIPS, "all slips"):
        row = f"{kind:<16}"
        for scores in slip_results.values():
            at1, at10, told = scores[kind]
            row += f"{at1:>20.1%}{at10:>20.1%}{told:>20.1%}"
        print(row)
    print("\n('told': corrected_query or suggestion equals the intended words, diacritics aside)")
    for name, share in own_first.items():
        ms = sorted(timings[name])
        p50, p99 = ms[len(ms) // 2] * 1000, ms[min(len(ms) - 1, int(len(ms) * 0.99))] * 1000
        print(
            f"{name}: exact-diacritic queries with their own spelling first {share:.1%}; "
            f"slipped queries p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )


#: Untimed queries (of other titles) before the timed ones, with ``--latency``.
WARM_UP = 20


async def latency(es_url: str | None, records: int, count: int, seed: int, keep: Path | None = None) -> None:
    """p50/p99 (concurrency 1, through ``SearchService``, every facet as the API asks) of correct and
    slipped title words and of autocomplete, over ``records`` records of ``bench/search.py``.

    With ``keep``, the tantivy index is built there once (with the sampled titles beside it) and reused
    by later runs of the same ``records``: a 1M-record index takes minutes to build. The search node's
    index is then kept too (alias ``latency-<records>``) and reused while the node keeps it.
    """
    rng = random.Random(seed)
    backends: list[tuple[str, SearchBackend]] = []
    with contextlib.ExitStack() as stack:
        base = keep if keep is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        titles_file = base / f"titles-{records}.json"
        tantivy = TantivyBackend(base / f"tantivy-{records}")
        await tantivy.open()
        backends.append(("tantivy", tantivy))
        build: list[tuple[str, SearchBackend]] = []
        if not titles_file.exists():
            build.append(backends[-1])
        if es_url:
            from search.elastic import ElasticBackend

            alias = f"latency-{records}" if keep is not None else f"latency-{uuid.uuid4().hex[:8]}"
            node = ElasticBackend(es_url, alias=alias)
            await node.open()
            backends.append(("elasticsearch", node))
            if build or await node.count() == 0:
                build.append(backends[-1])
        if build:
            for _, backend in build:
                if await backend.count():  # a half-built index of an interrupted run
                    await backend.swap_alias(await backend.create_index())
            titles: list[str] = await _index_bench_records(build, records)
            titles_file.write_text(json.dumps(titles))
        else:
            titles = json.loads(titles_file.read_text())
            print(f"{records} records: the indexes kept ({base}, the node's {es_url and alias}) are reused")
        for name, backend in backends:
            if name == "elasticsearch":
                # The shard request cache keeps whole answers of size-0 requests (the vocabulary
                # scans): runs on a kept index ask the same queries, which it would then answer.
                settings = {"index": {"requests.cache.enable": False}}
                await backend.client.indices.put_settings(index=backend.alias, body=settings)  # type: ignore[attr-defined]
        words = [t.split() for t in rng.sample(titles, min(count, len(titles))) if len(t.split()) >= 3]
        correct = [" ".join(w[i : i + 3]) for w in words for i in [rng.randrange(len(w) - 2)]]
        slipped_queries = [slipped(q, rng.choice(SLIPS), rng) for q in correct]
        typed = [folded_text(w[rng.randrange(1, len(w))])[: rng.randint(2, 4)] for w in words]
        # Queries of other titles run first, untimed: a node's first aggregations after indexing build
        # its per-field caches (global ordinals), which a running service has long since built.
        warm = [t.split() for t in rng.sample(titles, min(WARM_UP, len(titles))) if len(t.split()) >= 3]
        warm_queries = [" ".join(w[:3]) for w in warm]
        warm_queries += [slipped(q, rng.choice(SLIPS), rng) for q in warm_queries]
        try:
            for name, backend in backends:
                service = SearchService(backend)
                for q in warm_queries:
                    await service.search(SearchRequest(q=q))
                    await service.autocomplete(folded_text(q.split()[-1])[:3])
                # Wall time, and the CPU time of this process (every thread: the engine's too), which
                # a machine shared with other work inflates far less than the wall time.
                kinds = ("correct", "one slip", "autocomplete")
                rows: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
                for kind, queries in (("correct", correct), ("one slip", slipped_queries)):
                    for q in queries:
                        t0, c0 = time.perf_counter(), time.process_time()
                        await service.search(SearchRequest(q=q))
                        rows[kind].append((time.perf_counter() - t0, time.process_time() - c0))
                for prefix in typed:
                    t0, c0 = time.perf_counter(), time.process_time()
                    await service.autocomplete(prefix)
                    rows["autocomplete"].append((time.perf_counter() - t0, time.process_time() - c0))
                for kind, pairs in rows.items():
                    wall, cpu = (sorted(p[i] * 1000 for p in pairs) for i in (0, 1))
                    at50, at99 = len(pairs) // 2, int(len(pairs) * 0.99)
                    print(
                        f"{name:<14}{kind:<14}p50 {wall[at50]:7.1f} ms   p99 {wall[at99]:7.1f} ms   "
                        f"cpu p50 {cpu[at50]:7.1f} ms   p99 {cpu[at99]:7.1f} ms   ({len(pairs)} queries)"
                    )
        finally:
            for name, backend in backends:
                if name == "elasticsearch" and keep is None:
                    for index in await backend.list_indexes():
                        await backend.client.indices.delete(index=index)  # type: ignore[attr-defined]
                await backend.close()


async def _index_bench_records(backends: Sequence[tuple[str, SearchBackend]], records: int) -> list[str]:
    """Index ``records`` records of ``bench/search.py`` into every backend; some of their titles."""
    from bench.corpus import batched, generate

    titles: list[str] = []
    started = time.perf_counter()
    for batch in batched(generate(records), 5000):
        titles.extend(d.title for d in batch[:20] if d.title)
        for _, backend in backends:
            await backend.bulk(batch)
    for _, backend in backends:
        await backend.refresh()
    print(f"{records} records indexed in {time.perf_counter() - started:.0f} s")
    return titles


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
    parser.add_argument(
        "--latency", type=int, metavar="RECORDS", help="instead: latency of slipped queries and autocomplete"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="with --latency: build the index in DIR once, reuse it"
    )
    args = parser.parse_args()
    if args.latency:
        asyncio.run(latency(args.es, args.latency, args.items, args.seed, args.keep))
        return
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
