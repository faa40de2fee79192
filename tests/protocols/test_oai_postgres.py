"""The OAI-PMH feed over a PostgreSQL store: the same items, sets and change-time selection."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from .conftest import harvest_demo, serve_lienhop
from .oai_support import sickle, store_view

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_sickle_harvests_the_feed_of_a_postgresql_store(tmp_path: Path, postgres_url: str) -> None:
    settings = harvest_demo(tmp_path / "var", postgres_url)
    view = store_view(settings)
    with serve_lienhop(settings) as url:
        for prefix in ("oai_dc", "marcxml"):
            listed = list(sickle(url).ListRecords(metadataPrefix=prefix, ignore_deleted=False))
            assert sorted(r.header.identifier for r in listed) == sorted(view.identifiers)
            assert {r.header.identifier for r in listed if r.header.deleted} == view.deleted
        vast = {h.identifier for h in sickle(url).ListIdentifiers(metadataPrefix="oai_dc", set="member:VAST")}
        assert vast == view.of_member("VAST")
        theses = sickle(url).ListIdentifiers(metadataPrefix="oai_dc", set="type:thesis")
        assert {h.identifier for h in theses} == view.deleted | {
            i for i, r in view.rows.items() if not r.deleted and r.record.type == "thesis"
        }
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        changed_today = sickle(url).ListIdentifiers(metadataPrefix="oai_dc", **{"from": today})
        assert len(list(changed_today)) == len(view.identifiers)
