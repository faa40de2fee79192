"""What the batch lookup, OpenURL and SRU tests share: identifiers of the demo catalogue picked from
the store itself, and the members holding each."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from stdnum import ean
from stdnum import isbn as stdisbn

from schemas.settings import Settings
from store.records import StoredRecord

from .oai_support import store_view


@dataclass
class Catalogue:
    live: list[StoredRecord]
    holders: dict[tuple[str, str], set[str]]  # (kind, value) -> member codes

    def shared(self, kind: str) -> list[str]:
        """Values of ``kind`` held by more than one member, in a stable order."""
        return sorted(v for (k, v), members in self.holders.items() if k == kind and len(members) > 1)

    def held(self, kind: str) -> list[str]:
        return sorted(v for (k, v) in self.holders if k == kind)


def catalogue_of(settings: Settings) -> Catalogue:
    live = [row for row in store_view(settings).rows.values() if not row.deleted]
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in live:
        ids = row.record.identifiers
        for kind, values in (("isbn", ids.isbn), ("issn", ids.issn), ("doi", ids.doi)):
            for value in values:
                holders[kind, value].add(row.record.member)
    return Catalogue(live=live, holders=dict(holders))


def unheld_isbns(held: set[str], count: int) -> list[str]:
    """Valid ISBN-13s no record carries."""
    found: list[str] = []
    n = 0
    while len(found) < count:
        stem = f"978999{n:06d}"
        n += 1
        candidate = stem + ean.calc_check_digit(stem)
        if candidate not in held:
            found.append(candidate)
    return found


def isbn10(isbn13: str) -> str:
    """The hyphenated ISBN-10 form of a 978 ISBN-13, as a reading list might give it."""
    return stdisbn.format(stdisbn.to_isbn10(isbn13))
