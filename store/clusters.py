"""Which records form one work, decided without a database (``store/works.py`` reads and writes).

A work is a connected component of records linked by edges:

* an identifier edge between records sharing a normalised ISBN or DOI, or an ISSN when both are
  journals (an article's ISSN names its journal, not the article), over every identifier a record has;
* a title edge between records carrying none of those: the same folded title + subtitle, first
  author's full folded name (``schemas.text.name_key``: both word orders agree) and year, and the same
  folded publisher when both name one; never for an untitled record;
* a curator's join between two records; a record a curator split off has no edge but its joins.

Work ids are ``w<n>``, ``n`` the work's creation order, so the oldest of several works is the one with
the least number. When components change, :func:`assign` says which id each new component keeps.
"""

from __future__ import annotations

import functools
import hashlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from schemas.record import Record
from schemas.text import folded_text, name_key

LINKING = ("isbn", "doi")  # identifiers that link any two records; "issn" links journals only


def work_id(ord_: int) -> str:
    return f"w{ord_}"


def work_ord(work: str) -> int:
    """The creation order of a work id (``w42`` -> 42); -1 for what is not a work id."""
    return int(work[1:]) if work[:1] == "w" and work[1:].isdigit() else -1


def _hash(text: str) -> int:
    """64 bits of a hash as a signed integer: compact to index, and a chance collision among a
    million titles is about one in 30 million."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def title_hash(title: str) -> int | None:
    """The lookup key of a title: its folded form hashed (``None`` for a title with no letters)."""
    folded = folded_text(title)
    return _hash(folded) if folded else None


@functools.lru_cache(maxsize=1 << 12)  # publishers repeat record after record
def _folded_publisher(publisher: str) -> str | None:
    return folded_text(publisher) or None


@dataclass(frozen=True, slots=True)
class WorkKeys:
    """A live record's ``work_keys`` row (its ISBN/DOI/ISSN rows are in ``record_identifiers``)."""

    title: int | None  # title_hash of title + subtitle
    title_key: int | None  # title + first author + year, hashed; only for a record without identifiers
    publisher: str | None  # folded
    journal: bool


def work_keys(fields: Mapping[str, Any]) -> WorkKeys | None:
    """The keys of a live record from its fields (a ``Record`` dumped to JSON, ``raw`` not needed);
    ``None`` when it has nothing to keep (no title, not a journal)."""
    ids = fields.get("identifiers") or {}
    return keys_of_fields(
        fields.get("title"),
        fields.get("subtitle"),
        fields.get("type") == "journal",
        any(ids.get(kind) for kind in LINKING),
        bool(ids.get("issn")),
        fields.get("authors") or [],
        fields.get("year"),
        fields.get("publisher"),
    )


def record_keys(record: Record) -> WorkKeys | None:
    """:func:`work_keys` of a ``Record`` itself, without dumping it (``store.rows.record_row`` makes
    them beside the row, in a harvest's parse worker)."""
    ids = record.identifiers
    return keys_of_fields(
        record.title,
        record.subtitle,
        record.type == "journal",
        bool(ids.isbn or ids.doi),
        bool(ids.issn),
        record.authors,
        record.year,
        record.publisher,
    )


def keys_of_fields(
    title: str | None,
    subtitle: str | None,
    journal: bool,
    linking: bool,
    issn: bool,
    authors: Sequence[str],
    year: int | None,
    publisher: str | None,
) -> WorkKeys | None:
    """The keys from the fields they are made of: ``linking``, whether the record carries an ISBN or
    a DOI; ``issn``, whether it carries an ISSN."""
    text = " ".join(p for p in (title, subtitle) if p)
    folded = folded_text(text) if text else ""
    if not folded and not journal:
        return None
    linked = linking or (journal and issn)
    title_key = folded_publisher = None
    if folded and not linked:
        author = name_key(authors[0]) if authors else ""
        title_key = _hash(f"{folded}\x1f{author}\x1f{'' if year is None else year}")
        folded_publisher = _folded_publisher(publisher or "")
    return WorkKeys(_hash(folded) if folded else None, title_key, folded_publisher, journal)


@dataclass(slots=True)
class Node:
    """A live record as clustering sees it."""

    pk: int  # records.pk: the record's age (the oldest has the least)
    idents: list[str] = field(default_factory=list)  # linking identifiers, "isbn:<v>", "issn:<v>" ...
    title_key: int | None = None
    publisher: str | None = None
    split: bool = False  # a curator keeps it apart: no edges but the curator's joins


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def add(self, x: int) -> None:
        self.parent.setdefault(x, x)

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the older record's root stays the root (any choice is correct)
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra

    def groups(self) -> list[list[int]]:
        """The components, each sorted, in the order of their oldest record."""
        found: dict[int, list[int]] = {}
        for x in sorted(self.parent):
            found.setdefault(self.find(x), []).append(x)
        return list(found.values())


class DenseUnionFind:
    """:class:`UnionFind` over every int below ``size`` at 8 bytes each (an array, not a dict of int
    objects at ten times that), for the whole store's records by primary key; the same roots."""

    def __init__(self, size: int) -> None:
        self.parent = array("q", range(size))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the older record's root stays the root: a component's root is its oldest record
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


class Unites(Protocol):
    def union(self, a: int, b: int) -> None: ...


def link_title_group(uf: Unites, group: Sequence[tuple[int, str | None]]) -> None:
    """Union records sharing a title key: (pk, publisher) pairs. Records naming different publishers
    are not linked, but a record naming none links to all, so it joins them all into one."""
    if any(publisher is None for _pk, publisher in group):
        for pk, _publisher in group[1:]:
            uf.union(group[0][0], pk)
        return
    first: dict[str | None, int] = {}
    for pk, publisher in group:
        uf.union(first.setdefault(publisher, pk), pk)


def components(nodes: Iterable[Node], joins: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The connected components of ``nodes`` (lists of pks, oldest component first)."""
    uf = UnionFind()
    by_ident: dict[str, int] = {}
    titles: dict[int, list[tuple[int, str | None]]] = {}
    for node in nodes:
        uf.add(node.pk)
        if node.split:
            continue
        for ident in node.idents:
            uf.union(by_ident.setdefault(ident, node.pk), node.pk)
        if node.title_key is not None:
            titles.setdefault(node.title_key, []).append((node.pk, node.publisher))
    for group in titles.values():
        link_title_group(uf, group)
    for a, b in joins:
        if a in uf.parent and b in uf.parent:
            uf.union(a, b)
    return uf.groups()


def explain(nodes: Sequence[Node], joins: Iterable[tuple[int, int]]) -> dict[int, str | None]:
    """Why each record of one work belongs to it: the edge that reaches it from the work's oldest
    record (``None``), walking identifiers first, then titles, then curator joins (breadth first)."""
    if not nodes:
        return {}
    by_ident: dict[str, list[int]] = {}
    by_title: dict[int, list[Node]] = {}
    for node in nodes:
        if not node.split:
            for ident in node.idents:
                by_ident.setdefault(ident, []).append(node.pk)
            if node.title_key is not None:
                by_title.setdefault(node.title_key, []).append(node)
    curator: dict[int, list[int]] = {}
    for a, b in joins:
        curator.setdefault(a, []).append(b)
        curator.setdefault(b, []).append(a)
    nodes_by_pk = {node.pk: node for node in nodes}
    root = min(nodes_by_pk)
    why: dict[int, str | None] = {root: None}
    queue = [root]
    for pk in queue:
        node = nodes_by_pk[pk]
        reached: list[tuple[int, str]] = []
        if not node.split:
            reached += [(other, ident) for ident in node.idents for other in by_ident[ident]]
            if node.title_key is not None:
                reached += [
                    (other.pk, "title")
                    for other in by_title[node.title_key]
                    if node.publisher is None or other.publisher is None or node.publisher == other.publisher
                ]
        reached += [(other, "curator") for other in curator.get(pk, ())]
        for other, label in reached:
            if other in nodes_by_pk and other not in why:
                why[other] = label
                queue.append(other)
    return why


@dataclass
class Assignment:
    """Which id each new component takes, and what becomes of the old works."""

    ids: list[str | None]  # per component: the id it keeps, or None for a new work
    merged: dict[str, str]  # an old work whose records went to a component kept by an older work
    emptied: list[str]  # an old work none of whose records is left


def assign(
    parts: Sequence[Sequence[int]],
    old: Mapping[int, str],
    old_works: Iterable[str],
    keep: Literal["largest", "oldest"] = "largest",
) -> Assignment:
    """Give each component (``parts``, lists of pks) an id from the works its records were in (``old``:
    pk -> work id; new records are absent).

    Each old work names one heir among the components holding its records: with ``largest`` (the
    incremental rule) the one holding most of them, ties going to the one holding its oldest record;
    with ``oldest`` (a full re-clustering) the one holding its oldest record. A component named by
    several works keeps the oldest work's id and the others redirect to it (a merge); one named by
    none is a new work; an old work with no record left is emptied.
    """
    # per old work: per component index, (records of the work there, its oldest record there)
    spread: dict[str, dict[int, tuple[int, int]]] = {}
    for index, part in enumerate(parts):
        for pk in part:
            work = old.get(pk)
            if work is not None:
                count, oldest = spread.setdefault(work, {}).get(index, (0, pk))
                spread[work][index] = (count + 1, min(oldest, pk))
    heirs: dict[int, list[str]] = {}
    for work, where in spread.items():
        if keep == "largest":
            heir = max(where, key=lambda i: (where[i][0], -where[i][1]))
        else:
            heir = min(where, key=lambda i: where[i][1])
        heirs.setdefault(heir, []).append(work)
    ids: list[str | None] = []
    merged: dict[str, str] = {}
    for index in range(len(parts)):
        named = sorted(heirs.get(index, ()), key=work_ord)
        ids.append(named[0] if named else None)
        merged.update((loser, named[0]) for loser in named[1:])
    emptied = sorted(set(old_works) - set(spread), key=work_ord)
    return Assignment(ids, merged, emptied)
