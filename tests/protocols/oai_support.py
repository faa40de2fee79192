"""What the OAI-PMH tests share: the store's view of the catalogue, and the two harvesters not ours
(sickle, and pyoai's client) set up to read both metadata formats."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from lxml import etree
from oaipmh import client as pyoai_client
from oaipmh import metadata as pyoai_metadata
from sickle import Sickle

from schemas.settings import Settings
from store.front import RecordStore
from store.records import StoredRecord

from .conftest import PUBLIC_URL

HOST = "lienhop.example.vn"
NS = {
    "o": "http://www.openarchives.org/OAI/2.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "marc": "http://www.loc.gov/MARC21/slim",
}


@dataclass
class StoreView:
    """Every record row of the store, as OAI identifiers."""

    rows: dict[str, StoredRecord]  # by OAI identifier

    @property
    def identifiers(self) -> set[str]:
        return set(self.rows)

    @property
    def deleted(self) -> set[str]:
        return {i for i, r in self.rows.items() if r.deleted}

    def of_member(self, code: str) -> set[str]:
        return {i for i, r in self.rows.items() if r.record.member == code}


def oai_id(record_id: str) -> str:
    return f"oai:{HOST}:{record_id}"


def store_view(settings: Settings) -> StoreView:
    async def read() -> StoreView:
        store = await RecordStore.open(settings.db_url)
        try:
            rows = await store.changes_since(0, limit=1_000_000)
        finally:
            await store.close()
        return StoreView({oai_id(r.id): r for r in rows})

    return asyncio.run(read())


def sickle(url: str) -> Sickle:
    return Sickle(f"{url}/oai", max_retries=0, timeout=30)


class _EtreeWithEvaluate:
    """lxml.etree as pyoai 2.5 knows it: its client and readers call ``XPathEvaluator(...).evaluate``,
    a method lxml 6 no longer has (the evaluator itself is callable)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(etree, name)

    @staticmethod
    def XPathEvaluator(node: Any, **kwargs: Any) -> SimpleNamespace:
        return SimpleNamespace(evaluate=etree.XPathEvaluator(node, **kwargs))


def pyoai(url: str, monkeypatch: pytest.MonkeyPatch) -> pyoai_client.Client:
    """pyoai's client, reading oai_dc with its own reader and MARCXML with a reader of 001 and 245."""
    monkeypatch.setattr(pyoai_client, "etree", _EtreeWithEvaluate())
    monkeypatch.setattr(pyoai_metadata, "etree", _EtreeWithEvaluate())
    registry = pyoai_metadata.MetadataRegistry()
    registry.registerReader("oai_dc", pyoai_metadata.oai_dc_reader)
    registry.registerReader(
        "marcxml",
        pyoai_metadata.MetadataReader(
            fields={
                "control": ("textList", "marc:record/marc:controlfield[@tag='001']/text()"),
                "title": (
                    "textList",
                    "marc:record/marc:datafield[@tag='245']/marc:subfield[@code='a']/text()",
                ),
            },
            namespaces={"marc": NS["marc"]},
        ),
    )
    return pyoai_client.Client(f"{url}/oai", registry)


def oai_get(url: str, **params: str) -> etree._Element:
    response = httpx.get(f"{url}/oai", params=params, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    return etree.fromstring(response.content)


def error_code(root: etree._Element) -> str | None:
    error = root.find("o:error", NS)
    return None if error is None else error.get("code")


assert PUBLIC_URL.endswith(HOST)
