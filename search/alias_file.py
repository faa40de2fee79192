"""The alias of the embedded backends: a small JSON file naming the live index and the previous one.

Elasticsearch has aliases; a folder of index files does not, so the embedded backends keep one file,
replaced atomically, that every reader resolves on each request. A rebuild fills a new versioned index
beside the live one and :meth:`AliasFile.swap` points the alias at it in one ``os.replace``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from schemas.errors import NotFound

#: Versioned index names: the prefix and a UTC timestamp, so names sort by creation time.
PREFIX = "lienhop-"


def new_index_name(taken: Callable[[str], bool]) -> str:
    """A fresh versioned index name (``lienhop-<UTC timestamp>``) for which ``taken`` is false."""
    while True:
        name = f"{PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
        if not taken(name):
            return name


class AliasFile:
    """The ``alias`` file of one index folder."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "alias"

    def read(self) -> tuple[str | None, str | None]:
        """``(live, previous)`` index names; ``(None, None)`` before the first swap."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None, None
        return data.get("live"), data.get("previous")

    def live(self) -> str | None:
        return self.read()[0]

    def target(self, index: str | None) -> str:
        """``index`` itself, or the live index when ``index`` is None."""
        if index is not None:
            return index
        live = self.live()
        if live is None:
            raise NotFound("no live search index: call open() first")
        return live

    def swap(self, new_index: str, existing: Iterable[str], drop: Callable[[str], None]) -> str | None:
        """Point the alias at ``new_index``; keep the previous index for rollback, ``drop`` older ones.

        Newer indexes that are not live yet (a rebuild in progress elsewhere) are left alone.
        """
        old = self.live()
        if old == new_index:
            return old
        tmp = self.path.with_name(f"alias.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"live": new_index, "previous": old}))
        os.replace(tmp, self.path)  # atomic: readers see the old or the new alias, never half
        keep_after = old or new_index
        for name in existing:
            if name < keep_after and name != new_index:
                drop(name)
        return old
