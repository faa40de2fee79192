"""Property: however records are added, changed and deleted (and curators split and join), the works
kept page by page are the partition the rules give for the final store, and ids follow the rules.

Few ISBN, DOI, title and author values, so that records collide, link, and come apart again. The
partition is checked against a naive pairwise reading of the rules written here, and against
``recluster_all`` on the final store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from schemas.errors import WorkMoved
from schemas.member import MemberCreate
from schemas.record import Identifiers, Record
from schemas.text import folded_text, name_key
from store.clusters import work_ord
from store.front import RecordStore
from store.tables import record_identifiers, records, work_keys, work_overrides, works

MEMBERS = ("HUS", "VAST")
SLOTS = 4

fields = st.fixed_dictionaries(
    {
        "title": st.sampled_from([None, "Thư viện số", "Thu vien so", "Khoa học"]),
        "authors": st.sampled_from([[], ["Nguyễn Văn An"], ["Nguyen, Van An"], ["Trần Bình"]]),
        "year": st.sampled_from([None, 2019, 2020]),
        "publisher": st.sampled_from([None, "NXB Trẻ", "nxb tre", "NXB Thế giới"]),
        "type": st.sampled_from(["book", "book", "journal", "article"]),
        "identifiers": st.builds(
            Identifiers,
            isbn=st.lists(st.sampled_from(["9786049086410", "9786049086427", "9780306406157"]), max_size=2),
            doi=st.lists(st.sampled_from(["10.1000/a", "10.1000/b"]), max_size=1),
            issn=st.sampled_from([[], [], ["1859-3100"]]),
        ),
    }
)
slot = st.tuples(st.sampled_from(MEMBERS), st.integers(0, SLOTS - 1))
page = st.tuples(
    st.just("page"),
    st.sampled_from(MEMBERS),
    st.lists(st.tuples(st.integers(0, SLOTS - 1), st.none() | fields), min_size=1, max_size=3),
)
step = st.one_of(
    page,
    page,
    page,
    st.tuples(st.just("split"), slot),
    st.tuples(st.just("join"), slot, slot),
    st.tuples(st.just("remove"), st.integers(0, 3)),
)


def record(member: str, n: int, values: Mapping[str, Any] | None) -> Record:
    oai = f"oai:{member.lower()}:{n}"
    if values is None:
        return Record(member=member, oai_identifier=oai, deleted=True)
    return Record(member=member, oai_identifier=oai, **values)


def _carries(r: Record) -> bool:
    ids = r.identifiers
    return bool(ids.isbn or ids.doi or (r.type == "journal" and ids.issn))


def rules_link(a: Record, b: Record) -> bool:
    """The issue's rules, read pairwise and naively."""
    ia, ib = a.identifiers, b.identifiers
    if set(ia.isbn) & set(ib.isbn) or set(ia.doi) & set(ib.doi):
        return True
    if a.type == b.type == "journal" and set(ia.issn) & set(ib.issn):
        return True
    if _carries(a) or _carries(b):
        return False
    title_a, title_b = (folded_text(" ".join(p for p in (r.title, r.subtitle) if p)) for r in (a, b))
    if not title_a or title_a != title_b or a.year != b.year:
        return False
    if [name_key(x) for x in a.authors[:1]] != [name_key(x) for x in b.authors[:1]]:
        return False
    return not (a.publisher and b.publisher and folded_text(a.publisher) != folded_text(b.publisher))


def expected_partition(
    live: list[Record], overrides: list[tuple[str, str, str | None]]
) -> set[frozenset[str]]:
    parent = {r.id: r.id for r in live}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    split = {rid for kind, rid, _other in overrides if kind == "split"}
    for i, a in enumerate(live):
        for b in live[i + 1 :]:
            if a.id not in split and b.id not in split and rules_link(a, b):
                parent[find(a.id)] = find(b.id)
    for kind, rid, other in overrides:
        if kind == "join" and rid in parent and other in parent:
            parent[find(rid)] = find(other)
    groups: dict[str, set[str]] = {}
    for rid in parent:
        groups.setdefault(find(rid), set()).add(rid)
    return {frozenset(g) for g in groups.values()}


async def membership(store: RecordStore) -> dict[str, str]:
    """record id -> work id of every live record."""
    found: dict[str, str] = {}
    async for batch in store.iter_live():
        for stored in batch:
            work = await store.work_of(stored.id)
            assert work is not None, f"live record {stored.id} has no work"
            found[stored.id] = work
    return found


def partition(members: Mapping[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for rid, work in members.items():
        groups.setdefault(work, set()).add(rid)
    return {frozenset(g) for g in groups.values()}


async def check_ids(store: RecordStore, before: dict[str, str], after: dict[str, str], seq: int) -> None:
    """Merges keep the oldest id (the others redirect), a split keeps the larger part's id, and every
    work whose records changed took a new change number."""
    old_groups: dict[str, set[str]] = {}
    for rid, work in before.items():
        old_groups.setdefault(work, set()).add(rid)
    new_groups: dict[str, set[str]] = {}
    for rid, work in after.items():
        new_groups.setdefault(work, set()).add(rid)
    changes = {wid: alive for wid, _seq, alive in await store.work_changes_since(seq, limit=10_000)}
    for wid, held in new_groups.items():
        if held != old_groups.get(wid):
            assert changes.get(wid) is True, f"{wid} changed without a new number"
        sources = {before[r] for r in held if r in before}
        whole = [x for x in sources if all(after.get(r) == wid for r in old_groups[x] if r in after)]
        if len(sources) >= 2 and len(whole) == len(sources):
            oldest = min(sources, key=work_ord)
            assert wid == oldest, f"a merge of {sorted(sources)} kept {wid}"
            for loser in sources - {oldest}:
                try:
                    await store.get_work(loser)
                    raise AssertionError(f"{loser} was merged but still answers")
                except WorkMoved as moved:
                    assert moved.new_id == wid
    for wid, held in old_groups.items():
        live = [r for r in held if r in after]
        if not live:
            assert changes.get(wid) is False, f"{wid} lost every record but is not dead"
            continue
        sizes: dict[str, int] = {}
        for r in live:
            sizes[after[r]] = sizes.get(after[r], 0) + 1
        largest = sorted(sizes.items(), key=lambda kv: -kv[1])
        if len(largest) > 1 and largest[0][1] > largest[1][1]:
            heir = largest[0][0]
            if {before[r] for r in new_groups[heir] if r in before} == {wid}:
                assert heir == wid, f"{wid} split; its larger part went to {heir}"


async def wipe(store: RecordStore) -> None:
    async with store.engine.begin() as conn:
        for table in (work_overrides, work_keys, record_identifiers, records, works):
            await conn.execute(delete(table))


async def scenario(store: RecordStore, steps: list[tuple[Any, ...]]) -> None:
    await wipe(store)
    for step in steps:
        before = await membership(store)
        seq = max((s for _w, s, _a in await store.work_changes_since(0, limit=10_000)), default=0)
        kind = step[0]
        if kind == "page":
            _kind, member, slots = step
            await store.commit_page(member, None, [record(member, n, values) for n, values in slots])
        elif kind == "split" and record(*step[1], {}).id in before:
            await store.split_record(record(*step[1], {}).id)
        elif kind == "join":
            works_ = [before.get(record(*s, {}).id) for s in step[1:]]
            if None not in works_ and works_[0] != works_[1]:
                await store.join_works(str(works_[0]), str(works_[1]))
        elif kind == "remove":
            async with store.engine.connect() as conn:
                ids = list(await conn.scalars(select(work_overrides.c.id).order_by(work_overrides.c.id)))
            if ids:
                await store.remove_override(ids[step[1] % len(ids)])
        after = await membership(store)
        await check_ids(store, before, after, seq)

    final = await membership(store)
    live = [s.record async for batch in store.iter_live() for s in batch]
    async with store.engine.connect() as conn:
        o = work_overrides.c
        overrides = [tuple(r) for r in await conn.execute(select(o.kind, o.record_id, o.other_record_id))]
    assert partition(final) == expected_partition(live, overrides)  # type: ignore[arg-type]
    await store.recluster_all()
    assert partition(await membership(store)) == partition(final)


def test_incremental_works_match_clustering_from_scratch(database_url: str) -> None:
    with asyncio.Runner() as runner:
        store = runner.run(RecordStore.open(database_url))
        try:
            for code in MEMBERS:
                runner.run(store.add_member(MemberCreate(code=code, name_vi=code)))

            @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
            @given(st.lists(step, min_size=1, max_size=8))
            def check(steps: list[tuple[Any, ...]]) -> None:
                runner.run(scenario(store, steps))

            check()
        finally:
            runner.run(store.close())
