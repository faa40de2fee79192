"""The embedded tantivy index shared by two processes: a running server and a CLI harvest both index."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from search.tantivy_index import TantivyBackend
from tests.search.helpers import make_doc

pytestmark = pytest.mark.asyncio


async def test_two_writers_of_one_folder_take_turns(tmp_path: Path) -> None:
    # Two backends on one folder behave like two processes: tantivy's writer lock is per folder.
    server, cli = TantivyBackend(tmp_path / "tantivy"), TantivyBackend(tmp_path / "tantivy")
    await server.open()
    await cli.open()
    try:
        await server.bulk([make_doc("a", "Thư viện số")])
        # the CLI writes while the server's batch is not committed yet: it waits, it does not fail
        cli_write = asyncio.create_task(cli.bulk([make_doc("b", "Khoa học máy tính")]))
        await asyncio.sleep(0.2)
        await server.set_position(1)
        await cli_write
        await cli.set_position(2)
        await server.refresh()
        assert await server.count() == 2 and await cli.count() == 2
        assert await server.get_position() == 2
    finally:
        await server.close()
        await cli.close()
