"""Admin routes locked by default: loopback only without a key, no CSRF, no CORS, scoped keys, audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi import FastAPI

from schemas.settings import Settings

from .conftest import LOOPBACK, REMOTE, Clients, bearer, make_key

pytestmark = pytest.mark.asyncio

NEW_MEMBER = {"code": "NEW", "name_vi": "Thư viện mới"}


async def test_without_a_key_admin_answers_only_loopback(clients: Clients) -> None:
    remote = clients(REMOTE)
    for method, path in [("GET", "/admin/jobs"), ("POST", "/admin/reindex"), ("GET", "/admin/audit")]:
        refused = await remote.request(method, path)
        assert refused.status_code == 401, (path, refused.text)
        assert "lienhop keys create --scope admin" in refused.json()["detail"]
    assert (await remote.post("/admin/members", json=NEW_MEMBER)).status_code == 401
    # the ASGI transport's default client, "testclient", is no address: not loopback either
    assert (await clients("testclient").get("/admin/jobs")).status_code == 401
    assert (await clients(LOOPBACK).get("/admin/jobs")).status_code == 200
    assert (await clients("::1").post("/admin/members", json=NEW_MEMBER)).status_code == 201


async def test_a_web_page_cannot_use_loopback_admin(clients: Clients) -> None:
    """CSRF from a page the librarian visits, and DNS rebinding (a hostile name pointing at 127.0.0.1)."""
    cross_site = clients(LOOPBACK, origin="https://evil.example", **{"sec-fetch-site": "cross-site"})
    assert (await cross_site.post("/admin/members", json=NEW_MEMBER)).status_code == 401
    origin_only = clients(LOOPBACK, origin="http://evil.example:8000")
    assert (await origin_only.post("/admin/reindex")).status_code == 401
    rebound = clients(LOOPBACK, host="evil.example:8000", **{"sec-fetch-site": "same-origin"})
    assert (await rebound.get("/admin/jobs")).status_code == 401
    # a reverse proxy on the same machine: loopback is the proxy, the client is anyone
    for header in ("x-forwarded-for", "forwarded", "x-real-ip"):
        proxied = clients(LOOPBACK, **{header: "198.51.100.7"})
        assert (await proxied.get("/admin/jobs")).status_code == 401, header
    own_page = clients(LOOPBACK, host="127.0.0.1:8000", **{"sec-fetch-site": "same-origin"})
    assert (await own_page.get("/admin/jobs")).status_code == 200


async def test_csrf_style_bodies_are_refused(clients: Clients, app: FastAPI) -> None:
    """A form or text/plain post (what a page may send cross-site without a preflight) is a 415."""
    http = clients(LOOPBACK)
    text = await http.post(
        "/admin/members", content=b'{"code": "EVIL", "name_vi": "x"}', headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415 and text.headers["content-type"] == "application/problem+json"
    form = await http.post("/admin/harvest", data={"codes": "LIBA"})
    assert form.status_code == 415
    multipart = await http.post("/admin/members", files={"file": ("x.json", b"{}", "application/json")})
    assert multipart.status_code == 415
    plain_upload = await http.post(
        "/admin/import/LIBA", content=b"00000", headers={"content-type": "text/plain"}
    )
    assert plain_upload.status_code == 415
    no_type = await http.post("/admin/members", content=b'{"code": "EVIL", "name_vi": "x"}')
    assert no_type.status_code == 415
    assert [m.code for m in await app.state.lienhop.store.list_members()] == ["LIBA", "LIBB"]
    audit = (await http.get("/admin/audit")).json()
    assert [e["status"] for e in audit[:5]] == [415] * 5 and {e["outcome"] for e in audit[:5]} == {"refused"}


async def test_admin_routes_send_no_cors_headers(clients: Clients) -> None:
    http = clients(LOOPBACK, origin="https://opac.member.example")
    admin = await http.get("/admin/jobs")
    assert admin.status_code == 401  # a browser page, and not a loopback origin
    assert not [h for h in admin.headers if h.lower().startswith("access-control-")]
    preflight = await http.options(
        "/admin/harvest",
        headers={"access-control-request-method": "POST", "access-control-request-headers": "authorization"},
    )
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]
    public = await http.get("/lookup", params={"isbn": "9786049086410"})
    assert public.headers["access-control-allow-origin"] == "*"


async def test_keys_and_their_scopes(clients: Clients, app: FastAPI) -> None:
    _, admin = await make_key(app, "admin", label="office")
    curator_id, curator = await make_key(app, "curator", "LIBA", label="curator of LIBA")
    _, client = await make_key(app, "client", "LIBA", label="OPAC of LIBA")
    # with an admin key configured, loopback is no longer enough
    assert (await clients(LOOPBACK).get("/admin/jobs")).status_code == 401
    remote = clients(REMOTE)
    assert (await remote.get("/admin/jobs", headers=bearer(admin))).status_code == 200
    as_curator = clients(REMOTE, **bearer(curator))
    assert (await as_curator.post("/admin/harvest", json={"codes": ["LIBB"]})).status_code == 403
    assert (await as_curator.post("/admin/harvest", json={"codes": ["LIBA", "LIBB"]})).status_code == 403
    upload = {"file": ("b.mrc", b"00026nam a2200025 a 4500\x1e\x1d", "application/marc")}
    assert (await as_curator.post("/admin/import/LIBB", files=upload)).status_code == 403
    assert (await as_curator.get("/admin/members/LIBB/check")).status_code == 403
    for method, path, body in [
        ("POST", "/admin/members", NEW_MEMBER), ("PATCH", "/admin/members/LIBA", {"contact": "x"}),
        ("POST", "/admin/reindex", None), ("POST", "/admin/rederive", {}), ("GET", "/admin/audit", None),
    ]:  # fmt: skip
        assert (await as_curator.request(method, path, json=body)).status_code == 403, path
    own = await as_curator.post("/admin/harvest", json={})  # no codes: its own member
    assert own.status_code == 202 and own.json()["params"]["codes"] == ["LIBA"]
    other = await remote.post("/admin/harvest", json={"codes": ["LIBB"]}, headers=bearer(admin))
    assert other.status_code == 202
    seen = [job["id"] for job in (await as_curator.get("/admin/jobs")).json()]
    assert seen == [own.json()["id"]]
    assert (await as_curator.get(f"/admin/jobs/{other.json()['id']}")).status_code == 404
    # a client key reads the public API only
    as_client = clients(REMOTE, **bearer(client))
    assert (await as_client.get("/admin/jobs")).status_code == 403
    assert (await as_client.get("/members/LIBA")).status_code == 200
    audit = (await remote.get("/admin/audit", headers=bearer(admin))).json()
    harvest = next(e for e in audit if e["action"] == "POST /admin/harvest" and e["outcome"] == "ok")
    assert harvest["who"] == "key 1 (office)" and harvest["client"] == REMOTE
    refused = [
        e for e in audit if e["who"] == f"key {curator_id} (curator of LIBA)" and e["outcome"] == "refused"
    ]
    assert {e["status"] for e in refused} == {403}


async def test_revoked_and_expired_keys_are_refused(clients: Clients, app: FastAPI) -> None:
    key_id, key = await make_key(app, "admin")
    _, expired = await make_key(app, "admin", expires=date.today() - timedelta(days=2))
    _, last_day = await make_key(app, "admin", expires=date.today() + timedelta(days=1))
    http = clients(REMOTE)
    assert (await http.get("/admin/jobs", headers=bearer(key))).status_code == 200
    assert (await http.get("/admin/jobs", headers=bearer(last_day))).status_code == 200
    gone = await http.get("/admin/jobs", headers=bearer(expired))
    assert gone.status_code == 401 and "expired" in gone.json()["detail"]
    await app.state.lienhop.store.revoke_key(key_id)
    revoked = await http.get("/admin/jobs", headers=bearer(key))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert (await http.get("/admin/jobs", headers=bearer("lhk_" + "x" * 43))).status_code == 401
    assert (await http.get("/admin/jobs", headers={"Authorization": f"Basic {key}"})).status_code == 401
    # credentials come from the header only: not a query parameter, not a cookie
    assert (await http.get("/admin/jobs", params={"api_key": last_day})).status_code == 401
    assert (await http.get("/admin/jobs", headers={"cookie": f"api_key={last_day}"})).status_code == 401


async def test_bootstrap_token_is_an_admin_key(settings: Settings) -> None:
    import httpx

    from app.main import create_app

    app = create_app(settings.model_copy(update={"admin_token": "bootstrap-secret-1"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(REMOTE, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            made = await http.post("/admin/members", json=NEW_MEMBER, headers=bearer("bootstrap-secret-1"))
            assert made.status_code == 201
            audit = (await http.get("/admin/audit", headers=bearer("bootstrap-secret-1"))).json()
            assert audit[0]["who"] == "bootstrap" and audit[0]["action"] == "POST /admin/members"
            loopback = httpx.ASGITransport(app=app, client=(LOOPBACK, 1234))
            async with httpx.AsyncClient(transport=loopback, base_url="http://t") as local:
                assert (await local.get("/admin/jobs")).status_code == 401  # a token is configured


async def test_loopback_actions_are_audited(clients: Clients) -> None:
    http = clients(LOOPBACK)
    assert (await http.post("/admin/members", json=NEW_MEMBER)).status_code == 201
    assert (await http.post("/admin/members", json=NEW_MEMBER)).status_code == 409
    entries = (await http.get("/admin/audit", params={"limit": 2})).json()
    assert [(e["who"], e["outcome"], e["status"]) for e in entries] == [
        ("loopback", "failed", 409), ("loopback", "ok", 201)
    ]  # fmt: skip
    older = (await http.get("/admin/audit", params={"before": entries[1]["id"]})).json()
    assert older == []
