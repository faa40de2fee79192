"""Harvest throughput: Lienhop's harvester against lxml alone (the limit) and sickle (the peer).

A child process serves N synthetic records (mixed Vietnamese/English) as oai_dc and as MARCXML, in
pages of 500 linked by resumptionTokens. For each format the bench measures, on the same pages:

* lienhop: ``harvest_members`` into a fresh store (fetch, parse, normalise, commit, checkpoint), in
  a child process so its peak RSS (with that of any parsing workers it starts) is its own;
* lxml: the hardened parser on the page bytes alone, fetched beforehand (the ceiling);
* sickle: iterating ``ListRecords`` with no storing (the usual Python client);
* sickle + SQLite: a plain sickle loop committing each page's records (identifier, datestamp, the
  metadata as JSON) into SQLite, the peer of storing;
* end to end (``--e2e``): what ``lienhop harvest`` runs (``app.operations.harvest``: harvest, cluster
  into works in each page's transaction, index) into a fresh store and embedded tantivy index, timed
  until every record is searchable (the index's position has reached the store's last change); and,
  while it runs, how long each committed page waits until it is searchable.

They take turns (lienhop, end to end, sickle, sickle + SQLite, lxml, then again), so that on a shared
machine each sees the same load; the medians are compared, and the end-to-end rate as a fraction of
the store-only rate of the same runs. ``LIENHOP_HARVEST_PARSE_WORKERS`` is honoured (unset: automatic).

    .venv/bin/python bench/harvest.py --records 20000 --runs 3
    .venv/bin/python bench/harvest.py --records 50000 --runs 3 --formats oai_dc --e2e
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAGE = 500
_VI_TITLES = [
    "Nghiên cứu đa dạng sinh học vùng đồng bằng sông Cửu Long",
    "Lịch sử Việt Nam thời kỳ Lý – Trần",
    "Ứng dụng trí tuệ nhân tạo trong y học cổ truyền",
    "Địa chất và khoáng sản tỉnh Quảng Ninh",
]
_EN_TITLES = [
    "Rice yield under saline intrusion in the Mekong Delta",
    "A survey of Vietnamese lexicography",
    "Typhoon forecasting with ensemble models",
]
_AUTHORS = ["Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Quang Đạo", "Smith, John", "Phạm Minh Châu"]
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    "<responseDate>2024-01-01T00:00:00Z</responseDate><request>http://bench/oai</request>"
)


# ------------------------------------------------------------------------------------ the data


def _fields(i: int) -> dict[str, Any]:
    vi = i % 3 != 0
    title = (_VI_TITLES if vi else _EN_TITLES)[i % (4 if vi else 3)] + f" (tập {i})"
    return {
        "title": title,
        "authors": [_AUTHORS[i % 5], _AUTHORS[(i + 2) % 5]],
        "year": 1975 + i % 49,
        "lang": "vie" if vi else "eng",
        "isbn": f"978604{i % 10_000_000:07d}",
        "subject": "Khoa học tự nhiên" if vi else "Natural sciences",
        "publisher": "Nhà xuất bản Khoa học và Kỹ thuật" if vi else "Springer",
        "abstract": ("Tóm tắt: " if vi else "Abstract: ") + title * 3,
    }


def _dc(i: int) -> str:
    f = _fields(i)
    authors = "".join(f"<dc:creator>{escape(a)}</dc:creator>" for a in f["authors"])
    return (
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{escape(f['title'])}</dc:title>{authors}<dc:subject>{f['subject']}</dc:subject>"
        f"<dc:description>{escape(f['abstract'])}</dc:description><dc:publisher>{f['publisher']}</dc:publisher>"
        f"<dc:date>{f['year']}</dc:date><dc:type>Book</dc:type><dc:language>{f['lang']}</dc:language>"
        f"<dc:identifier>ISBN {f['isbn']}</dc:identifier>"
        f"<dc:identifier>http://hdl.handle.net/123456789/{i}</dc:identifier></oai_dc:dc>"
    )


def _marc(i: int) -> str:
    f = _fields(i)

    def df(tag: str, subs: list[tuple[str, str]], ind: str = "  ") -> str:
        inner = "".join(f'<marc:subfield code="{c}">{escape(v)}</marc:subfield>' for c, v in subs)
        return f'<marc:datafield tag="{tag}" ind1="{ind[0]}" ind2="{ind[1]}">{inner}</marc:datafield>'

    f008 = f"240101s{f['year']}    vm            000 0 {f['lang']} d"
    return (
        '<marc:record xmlns:marc="http://www.loc.gov/MARC21/slim">'
        "<marc:leader>00000cam a2200000 a 4500</marc:leader>"
        f'<marc:controlfield tag="001">bench{i}</marc:controlfield>'
        f'<marc:controlfield tag="008">{f008}</marc:controlfield>'
        + df("020", [("a", f["isbn"])])
        + df("100", [("a", f["authors"][0])], "1 ")
        + df("245", [("a", f["title"])], "10")
        + df("260", [("a", "Hà Nội :"), ("b", f["publisher"]), ("c", str(f["year"]))])
        + df("520", [("a", f["abstract"])])
        + df("650", [("a", f["subject"])], " 7")
        + df("700", [("a", f["authors"][1])], "1 ")
        + "</marc:record>"
    )


def render_page(fmt: str, start: int, total: int, offset: int = 0) -> bytes:
    """One ListRecords page of records ``start..start+PAGE`` of ``total``; ``offset`` shifts the
    records' numbers (identifiers, ISBNs, titles), so two providers serve different records."""
    make: Callable[[int], str] = _dc if fmt == "oai_dc" else _marc
    parts = [_HEAD, "<ListRecords>"]
    for i in range(offset + start, offset + min(start + PAGE, total)):
        stamp = f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
        parts.append(
            f"<record><header><identifier>oai:bench:{i}</identifier><datestamp>{stamp}</datestamp></header>"
            f"<metadata>{make(i)}</metadata></record>"
        )
    if start + PAGE < total:
        parts.append(f'<resumptionToken completeListSize="{total}">{fmt}:{start + PAGE}</resumptionToken>')
    parts.append("</ListRecords></OAI-PMH>")
    return "".join(parts).encode()


IDENTIFY = (
    _HEAD + "<Identify><repositoryName>bench</repositoryName><baseURL>http://bench/oai</baseURL>"
    "<protocolVersion>2.0</protocolVersion><adminEmail>a@example.org</adminEmail>"
    "<earliestDatestamp>2024-01-01T00:00:00Z</earliestDatestamp><deletedRecord>no</deletedRecord>"
    "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify></OAI-PMH>"
).encode()


def serve(port: int, total: int, offset: int = 0, formats: tuple[str, ...] = ("oai_dc", "marcxml")) -> None:
    """The provider (run in its own process): pages are pre-rendered so serving costs nothing."""
    import uvicorn

    pages = {
        (fmt, start): render_page(fmt, start, total, offset)
        for fmt in formats
        for start in range(0, total, PAGE)
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        q = dict(parse_qsl(scope["query_string"].decode()))
        if q.get("verb") == "Identify":
            body = IDENTIFY
        else:
            token = q.get("resumptionToken")
            fmt, start = (
                (token.split(":")[0], int(token.split(":")[1])) if token else (q["metadataPrefix"], 0)
            )
            body = pages[(fmt, start)]
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/xml")]}
        )
        await send({"type": "http.response.body", "body": body})

    print("ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------------- measuring


def harvest_child(url: str, fmt: str, home: str, database_url: str = "") -> None:
    """Harvest once into a fresh store (own process); print elapsed seconds, records and peak RSS.

    The store is SQLite in ``home``, or the (empty) database of ``database_url`` when given.
    """
    from harvesters.runner import harvest_members
    from schemas.member import MemberCreate
    from schemas.settings import Settings
    from store.front import RecordStore

    async def main() -> dict[str, Any]:
        # the bench's provider is on loopback, which the harvester refuses unless allowed
        settings = Settings(
            home=Path(home), database_url=database_url or None, harvest_allow_networks="127.0.0.0/8"
        )
        store = await RecordStore.open(settings.db_url)
        await store.add_member(MemberCreate(code="BENCH", name_vi="Bench", oai_url=url, metadata_prefix=fmt))
        began, cpu = time.perf_counter(), _cpu_seconds()
        [report] = await harvest_members(store, settings)
        elapsed = time.perf_counter() - began
        spent = [after - before for after, before in zip(_cpu_seconds(), cpu, strict=True)]
        await store.close()
        return {
            "elapsed": elapsed,
            "records": report.added,
            "ok": report.ok,
            "error": report.error,
            "cpu_self": spent[0],
            "cpu_workers": spent[1],
        }

    result = asyncio.run(main())
    # the harvester may parse in worker processes (joined by now): their peak counts too, added to
    # this process's own since they run at the same time
    peak_kb = sum(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    result["maxrss_mb"] = peak_kb / 1024
    # whether a parse worker ran (automatic mode starts one only when a core is idle)
    result["worker"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime > 0
    print(json.dumps(result))


def e2e_child(url: str, fmt: str, home: str) -> None:
    """``lienhop harvest``'s code path into a fresh store and index (own process), timed until every
    record is searchable; print elapsed seconds, records, and where the index stands."""
    from app import operations
    from app.context import open_context
    from schemas.member import MemberCreate
    from schemas.settings import Settings

    async def main() -> dict[str, Any]:
        settings = Settings(home=Path(home), harvest_allow_networks="127.0.0.0/8")
        ctx = await open_context(settings)
        assert ctx.backend is not None and ctx.search is not None
        member = MemberCreate(code="BENCH", name_vi="Bench", oai_url=url, metadata_prefix=fmt)
        await ctx.store.add_member(member)
        done = asyncio.Event()
        watching = asyncio.create_task(_watch_lag(ctx, done))
        began, cpu = time.perf_counter(), _cpu_seconds()
        [report] = await operations.harvest(ctx, None, False, None)
        elapsed = time.perf_counter() - began
        spent = [after - before for after, before in zip(_cpu_seconds(), cpu, strict=True)]
        done.set()
        lags = await watching
        # searchable: the index has caught up with the store's change feed and holds every work
        position = await ctx.backend.get_position()
        behind = len(await ctx.store.work_changes_since(position, limit=1_000_000))
        documents = await ctx.backend.count()
        await ctx.close()
        return {
            "elapsed": elapsed,
            "records": report.added,
            "ok": report.ok and not behind,
            "error": report.error or (f"the index is {behind} work changes behind" if behind else ""),
            "documents": documents,
            "cpu_self": spent[0],
            "cpu_workers": spent[1],
            "lags": lags,
        }

    print(json.dumps(asyncio.run(main())))


#: How often the end-to-end run looks at the store's last work change and the index position.
LAG_SAMPLE_SECONDS = 0.1


async def _watch_lag(ctx: Any, done: asyncio.Event) -> list[float]:
    """While a harvest runs: for each work change first seen committed, the seconds until the
    index's committed position reached it (each to within ``LAG_SAMPLE_SECONDS``)."""
    from sqlalchemy import func, select

    from store.tables import works

    committed: list[tuple[float, int]] = []  # (first seen, last work change committed by then)
    lags: list[float] = []
    while True:
        now = time.perf_counter()
        async with ctx.store.engine.connect() as conn:
            last = int(await conn.scalar(select(func.coalesce(func.max(works.c.seq), 0))) or 0)
        if last and (not committed or last > committed[-1][1]):
            committed.append((now, last))
        position = await ctx.backend.get_position()
        while committed and committed[0][1] <= position:
            lags.append(now - committed.pop(0)[0])
        if done.is_set() and not committed:
            return lags
        await asyncio.sleep(LAG_SAMPLE_SECONDS)


def _cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process and of its children that have ended (the workers)."""
    own, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run_lienhop(url: str, fmt: str, postgres: Any = None) -> dict[str, Any]:
    """One harvest in a child process, into a fresh SQLite store or a new database on ``postgres``."""
    database = postgres.create_database() if postgres is not None else None
    try:
        return _run_child(url, fmt, postgres.url_for(database) if database else "")
    finally:
        if database is not None:
            postgres.drop_database(database)


def run_e2e(url: str, fmt: str) -> dict[str, Any]:
    """One end-to-end harvest (store, works, index) in a child process, into a fresh home."""
    return _run_child(url, fmt, "", mode="--e2e-child")


def _run_child(url: str, fmt: str, database_url: str, mode: str = "--harvest-child") -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run(
            [sys.executable, __file__, mode, url, fmt, home, database_url],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def fetch_pages(url: str, fmt: str) -> list[bytes]:
    import httpx

    pages, params = [], {"verb": "ListRecords", "metadataPrefix": fmt}
    with httpx.Client(timeout=60) as client:
        while True:
            body = client.get(url, params=params).content
            pages.append(body)
            marker = body.rfind(b"<resumptionToken")
            if marker < 0:
                return pages
            token = body[body.index(b">", marker) + 1 : body.index(b"</resumptionToken>")].decode()
            params = {"verb": "ListRecords", "resumptionToken": token}


def run_lxml(pages: list[bytes]) -> tuple[float, int]:
    from harvesters.xml import parse_xml

    began = time.perf_counter()
    n = 0
    for body in pages:
        root = parse_xml(body).root
        n += len(root.findall(".//{http://www.openarchives.org/OAI/2.0/}record"))
    return time.perf_counter() - began, n


def run_sickle(url: str, fmt: str) -> tuple[float, int]:
    from sickle import Sickle

    began = time.perf_counter()
    n = sum(1 for _ in Sickle(url, timeout=60).ListRecords(metadataPrefix=fmt))
    return time.perf_counter() - began, n


def run_sickle_sqlite(url: str, fmt: str) -> tuple[float, int]:
    """A plain sickle loop writing each page into SQLite (one transaction per page)."""
    import sqlite3

    from sickle import Sickle
    from sickle.iterator import OAIResponseIterator
    from sickle.models import Record

    record_tag = "{http://www.openarchives.org/OAI/2.0/}record"
    with tempfile.TemporaryDirectory() as home:
        db = sqlite3.connect(Path(home) / "sickle.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE records (identifier TEXT PRIMARY KEY, datestamp TEXT, metadata TEXT)")
        began = time.perf_counter()
        n = 0
        client = Sickle(url, timeout=60, iterator=OAIResponseIterator)
        for response in client.ListRecords(metadataPrefix=fmt):
            rows = []
            for element in response.xml.iter(record_tag):
                rec = Record(element)
                rows.append((rec.header.identifier, rec.header.datestamp, json.dumps(rec.metadata)))
            with db:
                db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", rows)
            n += len(rows)
        elapsed = time.perf_counter() - began
        db.close()
    return elapsed, n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000, help="records per format (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is shown")
    parser.add_argument("--formats", default="oai_dc,marcxml")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)  # with --serve
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="",
        metavar="URL",
        help="store into PostgreSQL: a throwaway local cluster (durability off, as in the tests), or the "
        "server of URL (a role that may create databases)",
    )
    parser.add_argument(
        "--e2e",
        action="store_true",
        help="also measure end to end: harvested to searchable in the embedded index (SQLite store)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also append every run's figures to FILE")
    parser.add_argument(
        "--harvest-child", nargs=4, metavar=("URL", "FMT", "HOME", "DB"), help=argparse.SUPPRESS
    )
    parser.add_argument("--e2e-child", nargs=4, metavar=("URL", "FMT", "HOME", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.records, args.offset, tuple(args.formats.split(",")))
        return
    if args.harvest_child:
        harvest_child(*args.harvest_child)
        return
    if args.e2e_child:
        e2e_child(*args.e2e_child[:3])
        return
    if args.e2e and args.postgres is not None:
        parser.error("--e2e measures the default set-up: a SQLite store")

    postgres = _postgres(args.postgres) if args.postgres is not None else None
    stack = contextlib.ExitStack()
    try:
        url = stack.enter_context(provider(args.records))
        rows = []
        cpu_rows: list[tuple[str, float, float, float]] = []
        e2e_rows: list[tuple[str, float, float, float, float, float]] = []
        lag_rows: list[tuple[str, int, float, float, float]] = []
        workers = []
        for fmt in args.formats.split(","):
            pages = fetch_pages(url, fmt)
            lien: list[dict[str, Any]] = []
            e2e: list[dict[str, Any]] = []
            lx: list[tuple[float, int]] = []
            sk: list[tuple[float, int]] = []
            sq: list[tuple[float, int]] = []
            # one run of each in turn, so that on a shared machine all of them see the same load
            for _ in range(args.runs):
                lien.append(run_lienhop(url, fmt, postgres))
                if args.e2e:
                    e2e.append(run_e2e(url, fmt))
                sk.append(run_sickle(url, fmt))
                sq.append(run_sickle_sqlite(url, fmt))
                lx.append(run_lxml(pages))
            assert all(r["ok"] and r["records"] == args.records for r in lien + e2e), lien + e2e
            # every record has its own ISBN: one work each, all of them searchable
            assert all(r["documents"] == args.records for r in e2e), e2e
            assert all(n == args.records for _, n in lx + sk + sq)
            if args.json:
                runs = {"lienhop": lien, "e2e": e2e, "sickle": sk, "sickle_sqlite": sq, "lxml": lx}
                line = {"format": fmt, "records": args.records, "load": os.getloadavg(), **runs}
                with args.json.open("a") as out:
                    out.write(json.dumps(line) + "\n")
            lien_rate = args.records / statistics.median(r["elapsed"] for r in lien)
            lxml_rate = args.records / statistics.median(t for t, _ in lx)
            sickle_rate = args.records / statistics.median(t for t, _ in sk)
            sqlite_rate = args.records / statistics.median(t for t, _ in sq)
            rss = max(r["maxrss_mb"] for r in lien)
            # CPU per record, where it goes: the harvesting process (fetch, store) and the parse workers
            own = 1e6 * statistics.median(r["cpu_self"] for r in lien) / args.records
            workers_cpu = 1e6 * statistics.median(r["cpu_workers"] for r in lien) / args.records
            rows.append((fmt, lien_rate, rss, lxml_rate, sickle_rate))
            cpu_rows.append((fmt, own, workers_cpu, 1e6 / sickle_rate))
            workers.append(f"{fmt} {sum(r['worker'] for r in lien)}/{len(lien)}")
            if e2e:
                e2e_rate = args.records / statistics.median(r["elapsed"] for r in e2e)
                e2e_cpu = statistics.median(r["cpu_self"] + r["cpu_workers"] for r in e2e)
                # the ratio of each run to the store-only run just before it, then their median
                ratio = statistics.median(s["elapsed"] / e["elapsed"] for s, e in zip(lien, e2e, strict=True))
                lags = [lag for r in e2e for lag in r["lags"]]
                e2e_rows.append((fmt, lien_rate, e2e_rate, ratio, 1e6 * e2e_cpu / args.records, sqlite_rate))
                lag_rows.append((fmt, len(lags), statistics.median(lags), _percentile(lags, 0.99), max(lags)))
            else:
                e2e_rows.append((fmt, lien_rate, 0.0, 0.0, 0.0, sqlite_rate))
    finally:
        stack.close()
        if postgres is not None:
            postgres.stop()

    store = "SQLite" if postgres is None else "PostgreSQL"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{args.records} records per format, pages of {PAGE}, median of {args.runs} run(s), "
        f"lienhop storing into {store}; load average at the end {load}\n"
    )
    print(
        f"{'format':<8} {'lienhop rec/s':>14} {'peak RSS MB':>12} {'lxml-only rec/s':>16} "
        f"{'% of lxml':>10} {'sickle rec/s':>13} {'x sickle':>9}"
    )
    for fmt, lien_rate, rss, lxml_rate, sickle_rate in rows:
        print(
            f"{fmt:<8} {lien_rate:>14,.0f} {rss:>12,.0f} {lxml_rate:>16,.0f} "
            f"{100 * lien_rate / lxml_rate:>9.1f}% {sickle_rate:>13,.0f} {lien_rate / sickle_rate:>8.2f}x"
        )
    print(
        "\nlienhop = fetch + parse + normalise + store with per-page checkpoint;"
        " sickle and lxml store nothing."
    )
    print(f"lienhop runs that parsed in worker processes (started with a core idle): {', '.join(workers)}")
    print(f"\n{'format':<8} {'lienhop CPU us/rec':>19} {'of which workers':>17} {'sickle wall us/rec':>19}")
    for fmt, own, workers_cpu, sickle_us in cpu_rows:
        print(f"{fmt:<8} {own + workers_cpu:>19,.0f} {workers_cpu:>17,.0f} {sickle_us:>19,.0f}")
    _print_e2e(e2e_rows)
    if lag_rows:
        _print_lags(lag_rows)


def _print_e2e(rows: list[tuple[str, float, float, float, float, float]]) -> None:
    """Harvested to searchable, beside storing alone and the sickle + SQLite peer."""
    print(
        f"\n{'format':<8} {'store-only rec/s':>17} {'end to end rec/s':>17} {'e2e / store':>12} "
        f"{'e2e CPU us/rec':>15} {'sickle+SQLite rec/s':>20}"
    )
    for fmt, store_rate, e2e_rate, ratio, e2e_us, sqlite_rate in rows:
        e2e = f"{e2e_rate:>17,.0f} {ratio:>11.2f}x {e2e_us:>15,.0f}"
        if not e2e_rate:
            e2e = f"{'-':>17} {'-':>12} {'-':>15}"
        print(f"{fmt:<8} {store_rate:>17,.0f} {e2e} {sqlite_rate:>20,.0f}")
    print(
        "end to end = `lienhop harvest`'s path (store, works, index) until every record is searchable"
        " in the embedded index; e2e / store = median over runs of (store-only time / e2e time)."
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _print_lags(rows: list[tuple[str, int, float, float, float]]) -> None:
    """How long a committed page waited to become searchable while the harvest ran."""
    print(f"\n{'format':<8} {'commits seen':>13} {'searchable after: p50 s':>24} {'p99 s':>7} {'max s':>7}")
    for fmt, seen, p50, p99, worst in rows:
        print(f"{fmt:<8} {seen:>13,} {p50:>24.2f} {p99:>7.2f} {worst:>7.2f}")
    print(
        f"searchable after = from a work change first seen committed to the index's committed position"
        f" passing it, sampled every {LAG_SAMPLE_SECONDS} s, over every end-to-end run."
    )


def _postgres(url: str) -> Any:
    """The PostgreSQL server to make each run's database on: ``url``'s, or a throwaway cluster."""
    from tests.pg import server_from_url, start_cluster

    return server_from_url(url) if url else start_cluster()


@contextlib.contextmanager
def provider(records: int, formats: str | None = None, offset: int = 0) -> Iterator[str]:
    """The bench's OAI-PMH provider in a child process (all formats, or ``formats``, comma-separated),
    serving ``records`` records from number ``offset`` on a free loopback port; yields its base URL,
    and stops it on the way out."""
    from tests.servers import free_port

    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port), "--records", str(records)]
    command += ["--offset", str(offset)]
    server = subprocess.Popen(
        command + (["--formats", formats] if formats else []), stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "ready" once the pages are rendered
        url = f"http://127.0.0.1:{port}/oai"
        _wait_for(url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for(url: str) -> None:
    import httpx

    for _ in range(200):
        try:
            httpx.get(url, params={"verb": "Identify"}, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("bench server did not start")


if __name__ == "__main__":
    os.environ.pop("LIENHOP_HOME", None)  # the bench always uses a fresh temporary store
    main()
