"""Harvesting the catalogue's feed again after the store changed, and resuming lists across restarts."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from schemas.record import Record
from schemas.settings import Settings
from store.front import RecordStore

from .conftest import serve_lienhop
from .oai_support import NS, oai_get, oai_id, pyoai, sickle, store_view

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyoai's own


def _commit(settings: Settings, member: str, records: list[Record]) -> None:
    async def commit() -> None:
        store = await RecordStore.open(settings.db_url)
        try:
            await store.commit_page(member, None, records)
        finally:
            await store.close()

    asyncio.run(commit())


def _next_second() -> datetime:
    """Wait for a new second to begin and return it: everything stored before has an earlier datestamp."""
    time.sleep(1.02 - datetime.now(UTC).microsecond / 1e6)
    return datetime.now(UTC).replace(microsecond=0)


def _live(settings: Settings, member: str, skip: int = 0) -> Record:
    rows = [r for r in store_view(settings).rows.values() if r.record.member == member and not r.deleted]
    return rows[skip].record


def test_incremental_harvest_lists_the_new_the_changed_and_the_deleted(
    lienhop_url: str, catalogue: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {h.identifier for h in sickle(lienhop_url).ListIdentifiers(metadataPrefix="oai_dc")}
    assert before == store_view(catalogue).identifiers

    since = _next_second()
    new = Record(
        member="NASATI",
        oai_identifier="oai:nasati.example.vn:new-1",
        title="Nghiên cứu phát triển thư viện số ở Việt Nam",
        authors=["Nguyễn Thị Hằng"],
        year=2026,
        type="book",
    )
    changed = _live(catalogue, "HUE")
    changed = changed.model_copy(update={"title": f"{changed.title} (tái bản lần thứ hai)"})
    gone = _live(catalogue, "VAST")
    deletion = Record(member="VAST", oai_identifier=gone.oai_identifier, deleted=True, raw_format="marcxml")
    _commit(catalogue, "NASATI", [new])
    _commit(catalogue, "HUE", [changed])
    _commit(catalogue, "VAST", [deletion])
    expected = {oai_id(new.id), oai_id(changed.id), oai_id(gone.id)}

    for prefix in ("oai_dc", "marcxml"):
        listed = {
            r.header.identifier: r
            for r in sickle(lienhop_url).ListRecords(
                metadataPrefix=prefix, ignore_deleted=False, **{"from": since.strftime("%Y-%m-%dT%H:%M:%SZ")}
            )
        }
        assert set(listed) == expected
        assert listed[oai_id(gone.id)].header.deleted
        assert not listed[oai_id(changed.id)].header.deleted
        text = "".join(listed[oai_id(changed.id)].xml.itertext())
        assert "(tái bản lần thứ hai)" in text
        assert "Nghiên cứu phát triển thư viện số ở Việt Nam" in "".join(
            listed[oai_id(new.id)].xml.itertext()
        )

    client = pyoai(lienhop_url, monkeypatch)
    records = list(client.listRecords(metadataPrefix="oai_dc", from_=since.replace(tzinfo=None)))
    assert {h.identifier() for h, _m, _a in records} == expected
    assert {h.identifier() for h, _m, _a in records if h.isDeleted()} == {oai_id(gone.id)}

    after = {h.identifier for h in sickle(lienhop_url).ListIdentifiers(metadataPrefix="oai_dc")}
    assert after == before | {oai_id(new.id)} == store_view(catalogue).identifiers


def test_a_record_changed_while_a_list_is_paged_is_listed_again_not_lost(
    lienhop_url: str, catalogue: Settings
) -> None:
    first = oai_get(lienhop_url, verb="ListIdentifiers", metadataPrefix="oai_dc")
    seen = [h.text for h in first.iterfind(".//o:header/o:identifier", NS)]
    token = first.findtext(".//o:resumptionToken", namespaces=NS)
    assert token
    # a record of the first page changes: it takes a new change number, after the token's position
    record = next(r for r in store_view(catalogue).rows.values() if oai_id(r.id) == seen[0]).record
    _commit(catalogue, record.member, [record.model_copy(update={"abstract": "Tóm tắt mới."})])
    while token:
        page = oai_get(lienhop_url, verb="ListIdentifiers", resumptionToken=token)
        seen += [h.text for h in page.iterfind(".//o:header/o:identifier", NS)]
        token = page.findtext(".//o:resumptionToken", namespaces=NS)
    assert set(seen) == store_view(catalogue).identifiers
    assert seen.count(oai_id(record.id)) == 2


def test_resumption_tokens_stay_valid_after_a_restart(catalogue: Settings) -> None:
    query = {"verb": "ListRecords", "metadataPrefix": "marcxml", "set": "type", "from": "2000-01-01"}
    with serve_lienhop(catalogue) as url:
        first = oai_get(url, **query)
    seen = [h.text for h in first.iterfind(".//o:header/o:identifier", NS)]
    token = first.findtext(".//o:resumptionToken", namespaces=NS)
    assert token and len(seen) == 100

    with serve_lienhop(catalogue) as url:  # a new server: nothing of the first one remains
        while token:
            page = oai_get(url, verb="ListRecords", resumptionToken=token)
            assert page.find("o:error", NS) is None
            seen += [h.text for h in page.iterfind(".//o:header/o:identifier", NS)]
            token = page.findtext(".//o:resumptionToken", namespaces=NS)
            request = page.find("o:request", NS)
            assert request.get("resumptionToken") and request.get("verb") == "ListRecords"
    assert sorted(seen) == sorted(store_view(catalogue).identifiers)
