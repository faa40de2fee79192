"""``lienhop rederive`` and ``POST /admin/rederive``: a mapping fix reaches stored records and search."""

from __future__ import annotations

import httpx
import pytest

from store.front import RecordStore
from tests.app.conftest import Harvested
from tests.app.test_api import _wait
from tests.app.test_cli import lienhop, one_line_error


@pytest.mark.asyncio
async def test_rederive_job_puts_a_stale_record_right_in_search(
    harvested: Harvested, client: httpx.AsyncClient
) -> None:
    store = await RecordStore.open(harvested.settings.db_url)
    try:
        [page] = [p async for p in store.iter_live(batch=1, member="HUE")][:1]
        good = page[0].record
        # as an older mapping might have stored it: no title
        await store.commit_page("HUE", None, [good.model_copy(update={"title": None})])
    finally:
        await store.close()
    assert good.title
    record = (await client.get(f"/records/{page[0].id}")).json()
    assert record["record"]["title"] is None

    started = await client.post("/admin/rederive", json={"codes": ["hue"]})
    assert started.status_code == 202, started.text
    job = await _wait(client, started.json()["id"])
    assert job["state"] == "done", job
    [run] = job["result"]
    assert run["kind"] == "rederive" and run["updated"] == 1 and run["unchanged"] > 30
    record = (await client.get(f"/records/{page[0].id}")).json()
    assert record["record"]["title"] == good.title
    found = (await client.get("/search", params={"q": f'title:"{good.title}"', "member": "HUE"})).json()
    assert record["work_id"] in [h["work_id"] for h in found["hits"]]
    assert (await client.post("/admin/rederive", json={"codes": ["NOPE"]})).status_code == 404


def test_rederive_cli(harvested: Harvested, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_HOME", str(harvested.settings.home))
    result = lienhop("rederive", "TVU", "NTTU")
    assert result.exit_code == 0, result.output
    assert "TVU" in result.stdout and "NTTU" in result.stdout and "rederive" in result.stdout
    one_line_error(lienhop("rederive", "NOPE"), "NOPE")
