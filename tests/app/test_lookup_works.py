"""``/lookup`` answers works: by title only the works with that very title, among many similar ones."""

from __future__ import annotations

import httpx
import pytest

from app.context import AppContext
from schemas.member import MemberCreate
from schemas.record import Identifiers, Record

pytestmark = pytest.mark.asyncio

TITLE = "Phát triển thư viện số tại các trường đại học"
CODES = ("HUE", "TVU", "VNUA", "CTU")


def _record(member: str, n: int, title: str, year: int = 2020, isbn: str | None = None) -> Record:
    return Record(
        member=member,
        oai_identifier=f"oai:{member.lower()}:{n}",
        title=title,
        authors=["Nguyễn Văn An"],
        year=year,
        identifiers=Identifiers(isbn=[isbn] if isbn else []),
    )


def _similar(i: int) -> str:
    """46 titles a ranked search finds for TITLE: its words, a few more or a few fewer."""
    variants = (
        f"{TITLE} ở Việt Nam, tập {i}",
        f"Thư viện số tại các trường đại học: giai đoạn {i}",
        f"Phát triển thư viện số, kỳ {i}",
        f"{TITLE} và cao đẳng {i}",
    )
    return variants[i % len(variants)]


async def test_a_title_lookup_answers_only_the_works_with_that_title(app_client: httpx.AsyncClient) -> None:
    ctx: AppContext = app_client.app.state.lienhop  # type: ignore[attr-defined]
    for code in CODES:
        await ctx.store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
    pages: dict[str, list[Record]] = {code: [] for code in CODES}
    for code in ("HUE", "TVU", "VNUA"):  # the 2020 edition, held by three members
        pages[code].append(_record(code, 1, TITLE, isbn="9786049086410"))
    pages["CTU"].append(_record("CTU", 1, TITLE, year=2012))  # an earlier edition: another work
    for i in range(46):
        code = CODES[i % len(CODES)]
        pages[code].append(_record(code, 100 + i, _similar(i), year=2000 + i % 20))
    for code, records in pages.items():
        await ctx.store.commit_page(code, None, records)
    await ctx.sync_index()

    searched = (await app_client.get("/search", params={"q": "thư viện số", "size": 0, "facets": ""})).json()
    assert searched["total"] == 48, "a search finds the similar titles too: 46 works and both editions"

    found = (await app_client.get("/lookup", params={"title": TITLE})).json()
    assert [w["holdings_count"] for w in found["works"]] == [3, 1]
    assert [{h["code"] for h in w["holdings"]} for w in found["works"]] == [{"HUE", "TVU", "VNUA"}, {"CTU"}]
    assert (
        found["total_members"] == 4 and found["normalised"] == "phat trien thu vien so tai cac truong dai hoc"
    )
    folded = await app_client.get(
        "/lookup", params={"title": "phat trien thu vien so tai cac truong dai hoc"}
    )
    assert folded.json()["works"] == found["works"]
    widget = (await app_client.get("/lookup", params={"title": TITLE, "member": "vnua"})).json()
    assert widget["works"][0]["holdings"][0]["code"] == "VNUA", "the widget's member first"
    nothing = (await app_client.get("/lookup", params={"title": "Phát triển thư viện"})).json()
    assert nothing["works"] == [] and nothing["total_members"] == 0
