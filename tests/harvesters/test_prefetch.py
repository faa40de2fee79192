"""The next page is fetched while the current one is read, without changing what is asked or stored."""

from __future__ import annotations

import pytest

from harvesters.oai.protocol import trailing_token
from harvesters.runner import harvest_members
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records

from .support import add_member, stored
from .test_faults import START

END = b"</ListRecords></OAI-PMH>"


def test_trailing_token_is_read_from_the_end_only() -> None:
    page = b'<OAI-PMH><ListRecords><record/><resumptionToken cursor="0">a&amp;b|10</resumptionToken>'
    assert trailing_token(page + END + b"\n") == "a&b|10"
    prefixed = b"<o:OAI-PMH><o:ListRecords><o:resumptionToken>\n t \n</o:resumptionToken>"
    prefixed += b"</o:ListRecords></o:OAI-PMH>"
    assert trailing_token(prefixed) == "t"
    # the last page: an empty or self-closing token, or none
    assert trailing_token(b'<OAI-PMH><ListRecords><resumptionToken completeListSize="9"/>' + END) is None
    assert trailing_token(b"<OAI-PMH><ListRecords><resumptionToken></resumptionToken>" + END) is None
    assert trailing_token(b"<OAI-PMH><ListRecords><record/>" + END) is None
    # anything unusual at the end: no guess (the page is read properly anyway)
    assert (
        trailing_token(b"<OAI-PMH><ListRecords><resumptionToken>x</resumptionToken>" + END + b"<!---->")
        is None
    )
    assert (
        trailing_token(b"<OAI-PMH><ListRecords><resumptionToken><![CDATA[x]]></resumptionToken>" + END)
        is None
    )
    # a token-like text inside a record is not the page's token
    inside = b"<OAI-PMH><ListRecords><record><resumptionToken>fake</resumptionToken></record>" + END
    assert trailing_token(inside) is None


@pytest.mark.asyncio
async def test_each_page_is_asked_once_in_order(store: RecordStore, settings: Settings) -> None:
    app = FaultyProvider(records=vietnamese_records(45, START), page_size=10)
    with serve_in_thread(app) as url:
        await add_member(store, "VAST", url + "/oai")
        [report] = await harvest_members(store, settings, ["VAST"])
    assert report.ok and report.added == 45 and report.pages == 5
    asked = [q.get("resumptionToken") for q in app.requests if q.get("verb") == "ListRecords"]
    assert asked == [None, "10|||", "20|||", "30|||", "40|||"]


@pytest.mark.asyncio
async def test_early_fetch_that_fails_is_retried_like_any_other(
    store: RecordStore, settings: Settings
) -> None:
    """Page 3 is fetched early and answered 503 at first: retried, nothing lost or doubled."""
    app = FaultyProvider(records=vietnamese_records(30, START), page_size=10)
    app.script = [None, None, Fault(status=503, retry_after="0")]  # list requests: pages 1, 2, 3
    with serve_in_thread(app) as url:
        await add_member(store, "VAST", url + "/oai")
        [report] = await harvest_members(store, settings, ["VAST"])
    assert report.ok and report.added == 30, report.error
    assert len(await stored(store, "VAST")) == 30
    asked = [q.get("resumptionToken") for q in app.requests if q.get("verb") == "ListRecords"]
    assert asked == [None, "10|||", "20|||", "20|||"]
