"""Search cursors are signed and type-checked: crafted ones are a 422, never a 500 or a slow sort."""

from __future__ import annotations

import base64

import httpx
import pytest

from app.auth import load_secret
from schemas.errors import InvalidInput
from search.semantics import decode_cursor, encode_cursor, sign_cursor, verify_cursor
from tests.app.conftest import Harvested

pytestmark = pytest.mark.asyncio


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HOSTILE = {
    "infinite year": '[0, Infinity, "zzz"]',
    "huge year": '[0, 1e400, "zzz"]',
    "NaN score": '[NaN, "zzz"]',
    "64-bit overflow": f'[0, {10**30}, "zzz"]',
    "nested": "[" * 5000 + "]" * 5000,
    "nested values": '[[1], {"a": 2}, "zzz"]',
    "no id": "[1, 2]",
    "boolean": '[true, "zzz"]',
    "object": '{"after": "everything"}',
    "too many values": '[1, 2, 3, 4, 5, "zzz"]',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_cursors_are_refused_before_any_backend(name: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(_raw(HOSTILE[name]))


async def test_cursor_values_the_backends_make_still_decode() -> None:
    for values in ([12.5, "rec-1"], [0, -2024, "rec-2"], [1, 0, "rec-3"], ["thư viện", "rec-4"], [None, "x"]):
        assert decode_cursor(encode_cursor(values)) == values
    assert len(decode_cursor(encode_cursor(["t" * 1000, "id"]))) == 2
    with pytest.raises(InvalidInput):
        decode_cursor("A" * 5000)


async def test_signatures() -> None:
    cursor = encode_cursor([0, -2020, "rec-9"])
    signed = sign_cursor(cursor, b"k1")
    assert verify_cursor(signed, b"k1") == cursor
    for forged in (
        cursor,
        signed + "x",
        sign_cursor(cursor, b"k2"),
        signed.replace(cursor, encode_cursor([0, 0, "z"])),
    ):
        with pytest.raises(InvalidInput):
            verify_cursor(forged, b"k1")


async def test_the_api_answers_crafted_cursors_with_422(
    client: httpx.AsyncClient, harvested: Harvested
) -> None:
    first = (await client.get("/search", params={"q": "", "sort": "year_desc", "size": 5})).json()
    cursor = first["next_cursor"]
    assert cursor and "." in cursor
    second = await client.get("/search", params={"sort": "year_desc", "size": 5, "cursor": cursor})
    assert second.status_code == 200 and second.json()["hits"]
    assert {h["work_id"] for h in second.json()["hits"]}.isdisjoint(h["work_id"] for h in first["hits"])
    secret = load_secret(harvested.settings)
    attempts = {
        "forged after everything": encode_cursor([1, 0, "\U0010ffff"]),
        "unsigned infinity": _raw(HOSTILE["infinite year"]),
        "altered": cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB"),
        "garbage": "%%%not base64%%%",
        "empty signature": cursor.rpartition(".")[0] + ".",
        "huge": "A" * 20_000,
    }
    # signed with the server's own secret, hostile values are still type-checked
    for name in ("infinite year", "huge year", "nested", "64-bit overflow"):
        attempts[f"signed {name}"] = sign_cursor(_raw(HOSTILE[name]), secret)
    attempts["signed wrong sort"] = sign_cursor(encode_cursor(["a title", "id"]), secret)
    for name, crafted in attempts.items():
        answer = await client.get("/search", params={"sort": "year_desc", "cursor": crafted})
        assert answer.status_code == 422, (name, answer.status_code, answer.text[:200])
        assert answer.headers["content-type"] == "application/problem+json"
    page = await client.get("/", params={"q": "thu vien", "cursor": attempts["signed huge year"]})
    assert page.status_code < 500
