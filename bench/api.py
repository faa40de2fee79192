"""The library protocols under load: ``POST /lookup`` of 1,000 ISBNs, OpenURL and SRU, over real HTTP.

One run builds (or reuses, with ``--home``) a store of ``--records`` records from the generator of
``bench/search.py`` (the same works, a third of them held by two or more members), indexes it, serves
the whole app with uvicorn on 127.0.0.1, then measures:

* ``POST /lookup`` of 1,000 ISBNs, half held and half not (a new list each time): latency p50/p99,
  beside the store's own set-based query for the same list (``RecordStore.find_works_many``) and the
  whole batch in process (no HTTP);
* ``GET /openurl`` (JSON; citations by ISBN and by title + author + year) at concurrency 1 and 16,
  beside the store query each resolves with (by ISBN, by folded title);
* ``GET /sru`` searchRetrieve (CQL: words, a title phrase with a date range, an ISBN; 10 records,
  Dublin Core) at concurrency 1 and 16, beside the raw backend query of the translated CQL;
* a full OAI-PMH harvest of ``/oai`` (``oai_dc`` and ``marcxml``, ``--harvest``) by sickle in a
  process of its own, records/s, beside the store's size and the provider's own pages in process
  (the same verbs and resumption tokens, no HTTP).

    .venv/bin/python bench/api.py --records 100000
    .venv/bin/python bench/api.py --records 1000000 --home /tmp/lienhop-1m   # built once, then reused
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.context import AppContext, open_context  # noqa: E402
from app.main import create_app  # noqa: E402
from app.protocols.lookup import batch_lookup  # noqa: E402
from app.protocols.oai.catalogue import CatalogueRepository  # noqa: E402
from app.protocols.oai.provider import respond  # noqa: E402
from app.protocols.oai.xml import OAI  # noqa: E402
from app.protocols.sru.cql import translate  # noqa: E402
from bench.corpus import MEMBERS, _work  # noqa: E402
from bench.search import Latency, measure, measure_pair  # noqa: E402
from harvesters.xml import parse_xml  # noqa: E402
from schemas.member import MemberCreate  # noqa: E402
from schemas.record import Identifiers, Record  # noqa: E402
from schemas.search import SearchRequest  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from search.query import parse_query  # noqa: E402
from store.front import RecordStore  # noqa: E402

SEED = 20240601
PAGE = 1000


def records(count: int, seed: int = SEED, start: int = 0) -> Iterator[Record]:
    """The records of ``bench/search.py``'s generator, as the store takes them (from the ``start``-th,
    up to the ``count``-th)."""
    for i in range(start, count):
        rng = random.Random(seed * 1_000_003 + i)
        work = rng.randrange(i) if i and rng.random() < 0.3 else i  # a copy held by another member
        fields = _work(work, seed)
        member = MEMBERS[rng.randrange(len(MEMBERS))].upper()
        yield Record(
            member=member,
            oai_identifier=f"oai:{member.lower()}.example.vn:{i}",
            identifiers=Identifiers(isbn=fields.pop("isbn"), doi=fields.pop("doi")),
            **fields,
        )


async def add_members(store: RecordStore) -> None:
    """The generator's members, those the store does not hold yet."""
    have = {m.code for m in await store.list_members()}
    for code in MEMBERS:
        if code.upper() not in have:
            await store.add_member(
                MemberCreate(
                    code=code.upper(),
                    name_vi=f"Thư viện {code.upper()}",
                    opac_url_template=f"https://opac.{code}.example.vn/record/{{local_id}}",
                )
            )


async def fill(
    store: RecordStore,
    count: int,
    commit: Callable[[str, list[Record]], Awaitable[object]] | None = None,
    start: int = 0,
) -> None:
    """Commit ``count`` records (from the ``start``-th) a page of one member at a time, clustered into
    works as they commit; ``commit(member, page)`` replaces ``store.commit_page`` (a bench timing only
    the commit)."""

    async def commit_page(member: str, page: list[Record]) -> object:
        return await store.commit_page(member, None, page, state=None)

    put = commit or commit_page
    await add_members(store)
    started = time.perf_counter()
    pages: dict[str, list[Record]] = {}
    for n, record in enumerate(records(start + count, start=start), 1):
        page = pages.setdefault(record.member, [])
        page.append(record)
        if len(page) == PAGE:
            await put(record.member, page)
            pages[record.member] = []
        if n % 50_000 == 0:
            print(f"store: {n:,} records, {n / (time.perf_counter() - started):,.0f}/s", file=sys.stderr)
    for member, page in pages.items():
        if page:
            await put(member, page)
    print(f"store: {count:,} records in {time.perf_counter() - started:,.0f} s", file=sys.stderr)


async def build(settings: Settings, count: int) -> None:
    """Members, then ``count`` records a page at a time (clustered into works as they commit), then
    the index; skipped when the store already holds them."""
    ctx = await open_context(settings)
    try:
        have = sum(c.active for c in (await ctx.store.record_counts()).values())
        if have >= count:
            print(f"store: reusing {have:,} records in {settings.home}", file=sys.stderr)
        else:
            await fill(ctx.store, count)
        assert ctx.indexer is not None
        started = time.perf_counter()
        indexed = await ctx.indexer.sync()
        if indexed:
            print(f"index: {indexed:,} changes in {time.perf_counter() - started:,.0f} s", file=sys.stderr)
    finally:
        await ctx.close()


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread cannot take signals
        pass


def serve(settings: Settings, port: int) -> tuple[_Server, threading.Thread]:
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return server, thread


def isbn_lists(held: Sequence[str], lists: int, rng: random.Random) -> list[list[str]]:
    """``lists`` lists of 1,000 ISBNs: 500 held, 500 valid ones no record carries."""
    out = []
    for n in range(lists):
        absent = []
        for k in range(500):
            digits = [9, 7, 9, 8] + [int(c) for c in f"{n:03d}{k:05d}"]
            check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
            absent.append("".join(map(str, [*digits, check])))
        mixed = rng.sample(list(held), 500) + absent
        rng.shuffle(mixed)
        out.append(mixed)
    return out


async def sample(ctx: AppContext, count: int, rng: random.Random) -> tuple[list[str], list[Record]]:
    """Held ISBNs and records to cite (with a title, an author and a year), from the store."""
    isbns: list[str] = []
    cited: list[Record] = []
    async for batch in ctx.store.iter_live_works(batch=500):
        for _work_id, held in batch:
            record = held[0].record
            isbns.extend(record.identifiers.isbn)
            if record.title and record.authors and record.year:
                cited.append(record)
        if len(isbns) >= count and len(cited) >= count:
            break
    return rng.sample(isbns, min(count, len(isbns))), rng.sample(cited, min(count, len(cited)))


def cql_mix(isbns: Sequence[str], count: int, rng: random.Random) -> list[str]:
    from bench.corpus import EN_TOPICS, VI_TOPICS

    topics = VI_TOPICS + EN_TOPICS
    queries = []
    for n in range(count):
        topic = rng.choice(topics)
        kind = n % 4
        if kind == 0:
            queries.append(" ".join(topic.split()[:2]))  # plain words, cql.serverChoice
        elif kind == 1:
            queries.append(f'dc.title = "{topic}"')
        elif kind == 2:
            queries.append(f'dc.title = "{topic}" and dc.date within "2000 2015"')
        else:
            queries.append(f"bath.isbn = {rng.choice(isbns)}")
    return queries


def sickle_harvest(oai_url: str, prefix: str) -> tuple[int, float]:
    """Every item of ``ListRecords`` (deleted ones too), as a harvester reads them: (count, seconds)."""
    from sickle import Sickle

    began = time.perf_counter()
    count = sum(1 for _ in Sickle(oai_url, timeout=120).ListRecords(metadataPrefix=prefix))
    return count, time.perf_counter() - began


def sickle_in_child(oai_url: str, prefix: str) -> tuple[int, float]:
    """:func:`sickle_harvest` in a process of its own, so the client does not share the server's GIL."""
    done = subprocess.run(
        [sys.executable, __file__, "--sickle-child", oai_url, prefix],
        check=True,
        capture_output=True,
        text=True,
    )
    count, seconds = done.stdout.split()
    return int(count), float(seconds)


async def provider_pages(ctx: AppContext, prefix: str) -> tuple[int, float]:
    """The same list from the provider in process: each page's document as ``/oai`` answers it,
    following the resumption tokens, with no HTTP and no client parsing."""
    repository = CatalogueRepository(ctx.store, ctx.settings.public_url)
    pairs: list[tuple[str, str]] = [("verb", "ListRecords"), ("metadataPrefix", prefix)]
    count = 0
    began = time.perf_counter()
    while True:
        body = await respond(repository, pairs, repository.base_url)
        root = parse_xml(body).root
        count += sum(1 for _ in root.iter(f"{{{OAI}}}header"))
        token = root.findtext(f".//{{{OAI}}}resumptionToken")
        if not token:
            return count, time.perf_counter() - began
        pairs = [("verb", "ListRecords"), ("resumptionToken", token)]


def store_megabytes(settings: Settings) -> float:
    """The SQLite store's files (database, WAL), in MB."""
    return sum(f.stat().st_size for f in settings.home.glob("lienhop.sqlite*")) / 1e6


class _Shown(list[str]):
    """The table's rows, each also written to standard error as it is measured: a long run stopped
    before its end keeps what it measured."""

    def append(self, line: str) -> None:
        print(line, file=sys.stderr)
        super().append(line)


def row(name: str, latency: Latency, raw: Latency | None = None, raw_name: str = "") -> str:
    text = f"{name:<34} {latency.p50:>9.1f} {latency.p99:>9.1f} {latency.qps:>8.1f}"
    if raw is not None:
        text += f"   {raw_name:<26} {raw.p50:>8.2f} {raw.p99:>8.2f}"
    return text


async def run(args: argparse.Namespace) -> int:
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="lienhop-api-", dir=args.tmp))
    settings = Settings(home=home, scheduler_seconds=0, index_poll_seconds=3600)
    rng = random.Random(11)
    try:
        await build(settings, args.records)
        server, thread = serve(settings, args.port)
        ctx = await open_context(settings)
        try:
            search = ctx.require_search()
            held, cited = await sample(ctx, 2000, rng)
            lists = isbn_lists(held, args.lookups, rng)
            base = f"http://127.0.0.1:{args.port}"
            lines = _Shown()
            harvests: list[tuple[str, int, float, float]] = []
            async with httpx.AsyncClient(base_url=base, timeout=120) as http:
                await http.post("/lookup", json={"identifiers": lists[0]})  # warm-up

                async def post(i: int) -> None:
                    response = await http.post("/lookup", json={"identifiers": lists[i % len(lists)]})
                    assert response.status_code == 200 and len(response.json()["results"]) == 1000

                async def raw_lookup(i: int) -> None:
                    await ctx.store.find_works_many("isbn", lists[i % len(lists)])

                async def in_process(i: int) -> None:
                    await batch_lookup(ctx.store, lists[i % len(lists)])

                layer, raw = await measure_pair(post, raw_lookup, args.lookups, 1, rounds=2)
                whole = await measure(in_process, args.lookups, 1)
                lines.append(row("POST /lookup 1,000 ISBNs, c1", layer, raw, "store find_works_many"))
                lines.append(row("  (the batch in process, no HTTP)", whole))

                citations: list[dict[str, str]] = []
                for n in range(args.queries):
                    if n % 2 == 0:
                        citations.append({"url_ver": "Z39.88-2004", "rft.isbn": held[n % len(held)]})
                    else:
                        record = cited[n % len(cited)]
                        citations.append(
                            {
                                "url_ver": "Z39.88-2004",
                                "rft.btitle": record.title or "",
                                "rft.au": record.authors[0],
                                "rft.date": str(record.year),
                            }
                        )

                async def openurl(i: int) -> None:
                    response = await http.get(
                        "/openurl", params=citations[i], headers={"Accept": "application/json"}
                    )
                    assert response.status_code == 200 and response.json()["works"], response.text

                async def raw_openurl(i: int) -> None:
                    given = citations[i]
                    if "rft.isbn" in given:
                        await ctx.store.find_works_many("isbn", [given["rft.isbn"]])
                    else:
                        await ctx.store.find_works_by_title(given["rft.btitle"])

                queries = cql_mix(held, args.queries, rng)
                translated = [translate(q).query for q in queries]

                async def sru(i: int) -> None:
                    params = {
                        "operation": "searchRetrieve",
                        "version": "1.2",
                        "query": queries[i],
                        "maximumRecords": 10,
                    }
                    response = await http.get("/sru", params=params)
                    assert response.status_code == 200 and b"diagnostic" not in response.content, (
                        response.text
                    )

                async def raw_sru(i: int) -> None:
                    request = SearchRequest(q=translated[i], size=10, facets=[], highlight=False)
                    await search.backend.search(parse_query(translated[i]), request)

                for i in range(min(20, args.queries)):  # warm-up
                    await openurl(i)
                    await sru(i)
                for concurrency in args.concurrency:
                    layer, raw = await measure_pair(openurl, raw_openurl, args.queries, concurrency)
                    lines.append(row(f"GET /openurl (JSON), c{concurrency}", layer, raw, "store query"))
                for concurrency in args.concurrency:
                    layer, raw = await measure_pair(sru, raw_sru, args.queries, concurrency)
                    lines.append(
                        row(f"GET /sru searchRetrieve, c{concurrency}", layer, raw, "backend.search")
                    )
            items = sum(c.active + c.deleted for c in (await ctx.store.record_counts()).values())
            for prefix in args.harvest:
                count, seconds = sickle_in_child(f"{base}/oai", prefix)
                assert count == items, f"sickle harvested {count:,} {prefix} records of {items:,}"
                own, own_seconds = await provider_pages(ctx, prefix)
                assert own == items, f"the provider listed {own:,} {prefix} records of {items:,}"
                harvests.append((prefix, count, count / seconds, own / own_seconds))
                print(
                    f"harvest {prefix}: {count:,} records, sickle {count / seconds:,.0f}/s, "
                    f"provider in process {own / own_seconds:,.0f}/s",
                    file=sys.stderr,
                )
        finally:
            await ctx.close()
            server.should_exit = True
            thread.join(timeout=30)
        print(f"\n{args.records:,} records; latencies in ms (raw: the same requests, in process)")
        print(f"{'request':<34} {'p50':>9} {'p99':>9} {'qps':>8}   {'raw':<26} {'p50':>8} {'p99':>8}")
        for line in lines:
            print(line)
        if harvests:
            print(f"\nOAI-PMH ListRecords, full harvest of /oai; store {store_megabytes(settings):,.0f} MB")
            heads = ("format", "records", "sickle rec/s", "provider in process rec/s", "ratio")
            print(f"{heads[0]:<8} {heads[1]:>10} {heads[2]:>13} {heads[3]:>26} {heads[4]:>6}")
            for prefix, count, rate, own_rate in harvests:
                print(f"{prefix:<8} {count:>10,} {rate:>13,.0f} {own_rate:>26,.0f} {rate / own_rate:>6.2f}")
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--home", help="Keep the store and index here and reuse them next time")
    parser.add_argument("--tmp", help="Folder for a temporary store (default: the system's)")
    parser.add_argument("--lookups", type=int, default=20, help="POST /lookup requests of 1,000 ISBNs")
    parser.add_argument("--queries", type=int, default=400, help="OpenURL and SRU requests per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--harvest",
        nargs="*",
        default=["oai_dc", "marcxml"],
        choices=["oai_dc", "marcxml"],
        help="Formats of the full OAI-PMH harvest by sickle (none: skip it)",
    )
    parser.add_argument("--sickle-child", nargs=2, metavar=("OAI_URL", "PREFIX"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sickle_child:
        count, seconds = sickle_harvest(*args.sickle_child)
        print(count, seconds)
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
