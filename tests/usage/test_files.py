"""COUNTER report files: the public samples read as their authors meant, imports that replace months."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from schemas.usage import CounterFormatError
from store.front import RecordStore
from usage.counter import read_report
from usage.importer import import_report
from usage.loading import list_outcomes
from usage.report import build_report
from usage.tables import usage_items, usage_totals

from .conftest import add_database
from .files import database_report
from .sushi_server import DATABASES, TDM_REQUESTS, report_r51


def counter_fixture(fixtures_dir: Path, name: str) -> bytes:
    path = fixtures_dir / "counter" / name
    if not path.is_file():
        pytest.skip(f"{path} is not in the shared fixtures")
    return path.read_bytes()


def test_sushi_json_sample(fixtures_dir: Path) -> None:
    report = read_report(counter_fixture(fixtures_dir, "pycounter__sushi_simple.json"))
    assert (report.report_id, report.release) == ("TR_J1", "5")
    assert report.months() == [date(2019, 1, 1), date(2019, 2, 1)]
    counts = {(r.month.month, r.metric): r.count for r in report.rows}
    assert counts == {
        (1, "Total_Item_Requests"): 14, (1, "Unique_Item_Requests"): 9,
        (2, "Total_Item_Requests"): 16, (2, "Unique_Item_Requests"): 12,
    }  # fmt: skip
    row = report.rows[0]
    assert row.title == "Journal of fake data"
    assert row.item_ids == {
        "Print_ISSN": "0737-1764", "DOI": "some.fake.doi", "Proprietary_ID": "journ.fake.data",
        "Online_ISSN": "1234-5678",
    }  # fmt: skip


def test_book_sample_keeps_a_vendors_odd_isbn(fixtures_dir: Path) -> None:
    report = read_report(counter_fixture(fixtures_dir, "pycounter__sushi_book.json"))
    assert report.report_id == "TR_B1" and len(report.rows) == 4
    assert report.rows[0].item_ids is not None
    assert report.rows[0].item_ids["ISBN"] == "Book Requests (Excluding OA_Gold)"  # kept, not trusted


def test_tabular_samples(fixtures_dir: Path) -> None:
    j1 = read_report(counter_fixture(fixtures_dir, "pycounter__tr_j1.tsv"))
    assert (j1.report_id, j1.release) == ("TR_J1", "5")
    assert j1.rows == []  # every monthly cell is empty in the sample
    assert [m.month for m in j1.months()] == [1, 2, 3, 4, 5, 6]  # Reporting_Period 2017-01-01 to 2017-06-30
    j2 = read_report(counter_fixture(fixtures_dir, "pycounter__tr_j2.tsv"))
    assert j2.report_id == "TR_J2"
    # "Reporting_ Period_Total" (a stray space) is a total, not a month; Jan-2017 holds 3
    assert [(r.title, r.metric, r.month, r.count) for r in j2.rows] == [
        ("Journal A", "Limit_Exceeded", date(2017, 1, 1), 3)
    ]


def test_exception_sample(fixtures_dir: Path) -> None:
    report = read_report(counter_fixture(fixtures_dir, "pycounter__not_authorized.json"))
    assert [(e.code, e.severity) for e in report.exceptions] == [(2000, "Error")]
    assert report.rows == []


@pytest.mark.asyncio
async def test_import_replaces_the_months_a_file_covers(
    members_store: RecordStore, fixtures_dir: Path
) -> None:
    await add_database(members_store, "https://sushi.example.org/r5")
    engine = members_store.engine
    sample = counter_fixture(fixtures_dir, "pycounter__sushi_simple.json")
    first = await import_report(engine, "SD", "NASATI", sample)
    again = await import_report(engine, "sd", "nasati", sample)
    assert first == again
    assert (again.report_id, again.months, again.rows) == ("TR_J1", ["2019-01", "2019-02"], 4)
    outcomes = await list_outcomes(engine, "SD", "NASATI")
    assert [(o.report_id, o.month, o.status, o.rows, o.source) for o in outcomes] == [
        ("TR_J1", "2019-01", "ok", 2, "file"), ("TR_J1", "2019-02", "ok", 2, "file"),
    ]  # fmt: skip

    # a DR as TSV, then a corrected one as CSV for February and March only
    tsv = database_report("DR", 2023, 3, [("Physics", "Regular", "Total_Item_Requests", [100, 200, 300])])
    await import_report(engine, "SD", "NASATI", tsv)
    csv = database_report("DR", 2023, 3, [("Physics", "Regular", "Total_Item_Requests", [100, 20, 30])], ",")
    await import_report(engine, "SD", "NASATI", csv)
    report = await build_report(engine, 2023)
    assert report.members[0].months == {"2023-01": 100, "2023-02": 20, "2023-03": 30}
    # the TR_J1 imported above is not a download figure
    assert (await build_report(engine, 2019)).total_item_requests == 0


@pytest.mark.asyncio
async def test_import_refuses_what_is_not_usage(members_store: RecordStore, fixtures_dir: Path) -> None:
    await add_database(members_store, "https://sushi.example.org/r5")
    engine = members_store.engine
    with pytest.raises(CounterFormatError, match="2000"):
        await import_report(
            engine, "SD", "NASATI", counter_fixture(fixtures_dir, "pycounter__not_authorized.json")
        )
    with pytest.raises(CounterFormatError, match="JSON"):
        await import_report(engine, "SD", "NASATI", b'{"Report_Header": ')
    with pytest.raises(CounterFormatError, match="Report_ID"):
        await import_report(engine, "SD", "NASATI", b"Title\tMetric_Type\nA\tTotal_Item_Requests\n")
    bad = database_report("DR", 2023, 1, [("Physics", "Regular", "Total_Item_Requests", [-4])])
    with pytest.raises(CounterFormatError, match="whole number"):
        await import_report(engine, "SD", "NASATI", bad)
    assert await list_outcomes(engine) == []


def test_release_51_json_and_tabular() -> None:
    body = json.dumps(report_r51("DR", "LIB-A", date(2024, 3, 1), 300)).encode()
    report = read_report(body)
    assert (report.report_id, report.release, report.months()) == ("DR", "5.1", [date(2024, 3, 1)])
    regular = {(r.title, r.metric): r.count for r in report.rows if r.access_method == "Regular"}
    assert regular[DATABASES[0][0], "Total_Item_Requests"] == 200
    assert sum(r.count for r in report.rows if r.access_method == "TDM") == TDM_REQUESTS

    tsv = database_report("DR", 2024, 2, [("Physics", "Regular", "Total_Item_Requests", [7, 8])]).decode()
    tsv = tsv.replace("Release\t5", "Release\t5.1").replace(
        "2024-01-01 to 2024-02-28", "Begin_Date=2024-01-01; End_Date=2024-02-29"
    )
    tabular = read_report(tsv.encode())
    assert tabular.release == "5.1" and [m.month for m in tabular.months()] == [1, 2]
    assert [(r.month.month, r.count, r.access_method) for r in tabular.rows] == [
        (1, 7, "Regular"),
        (2, 8, "Regular"),
    ]


BOOK_TSV = "\r\n".join([
    "Report_Name\tBook Requests (Excluding OA_Gold)", "Report_ID\tTR_B1", "Release\t5",
    "Institution_Name\tThư viện thử", "Metric_Types\tTotal_Item_Requests; Unique_Title_Requests",
    "Reporting_Period\t2024-01-01 to 2024-02-29", "",
    "Title\tPublisher\tPlatform\tISBN\tYOP\tMetric_Type\tReporting_Period_Total\tJan-2024\tFeb-2024",
    "Giáo trình Vật lý\tNXB Giáo dục\tLoopback\t978-604-0-00000-1\t2019\tTotal_Item_Requests\t30\t12\t18",
    "Giáo trình Vật lý\tNXB Giáo dục\tLoopback\t978-604-0-00000-1\t2019\tUnique_Item_Requests\t20\t8\t12",
    "Giáo trình Vật lý\tNXB Giáo dục\tLoopback\t978-604-0-00000-1\t2019\tUnique_Title_Requests\t9\t4\t5",
    "",
]).encode()  # fmt: skip


@pytest.mark.asyncio
async def test_book_title_metrics_are_kept_as_sent(members_store: RecordStore) -> None:
    """COUNTER counts books by title too (Unique_Title_Requests, Unique_Title_Investigations): an
    import or harvest keeps every metric a report carries, not only the item ones."""
    await add_database(members_store, "https://sushi.example.org/r5")
    engine = members_store.engine
    await import_report(engine, "SD", "NASATI", BOOK_TSV)
    r51 = report_r51("TR", "LIB-A", date(2024, 3, 1), 0)
    r51["Report_Items"] = [{
        "Title": "Giáo trình Hóa học", "Item_ID": {"ISBN": "978-604-0-00000-2"}, "Platform": "Loopback",
        "Attribute_Performance": [{
            "Data_Type": "Book", "Access_Type": "Controlled", "Access_Method": "Regular", "YOP": "2020",
            "Performance": {"Total_Item_Investigations": {"2024-03": 11},
                            "Unique_Title_Investigations": {"2024-03": 6},
                            "Unique_Title_Requests": {"2024-03": 3}},
        }],
    }]  # fmt: skip
    await import_report(engine, "SD", "VNU", json.dumps(r51).encode())

    async with engine.connect() as conn:
        t = usage_totals.c
        rows = (await conn.execute(select(t.member, t.report_id, t.month, t.metric, t.total))).all()
    totals = {(member, report, month.isoformat()[:7], metric): n for member, report, month, metric, n in rows}
    assert totals == {
        ("NASATI", "TR_B1", "2024-01", "Total_Item_Requests"): 12,
        ("NASATI", "TR_B1", "2024-01", "Unique_Item_Requests"): 8,
        ("NASATI", "TR_B1", "2024-01", "Unique_Title_Requests"): 4,
        ("NASATI", "TR_B1", "2024-02", "Total_Item_Requests"): 18,
        ("NASATI", "TR_B1", "2024-02", "Unique_Item_Requests"): 12,
        ("NASATI", "TR_B1", "2024-02", "Unique_Title_Requests"): 5,
        ("VNU", "TR", "2024-03", "Total_Item_Investigations"): 11,
        ("VNU", "TR", "2024-03", "Unique_Title_Investigations"): 6,
        ("VNU", "TR", "2024-03", "Unique_Title_Requests"): 3,
    }
    async with engine.connect() as conn:
        isbns = {r[0]["ISBN"] for r in await conn.execute(select(usage_items.c.item_ids))}
    assert isbns == {"978-604-0-00000-1", "978-604-0-00000-2"}
