"""``lienhop keys``, the serve check, browser sessions, and keys kept out of every log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from app.auth import RedactKeys, load_secret
from app.cli import cli
from schemas.settings import Settings

from .conftest import LOOPBACK, REMOTE, Clients, bearer, make_key


@pytest.fixture
def home(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LIENHOP_HOME", str(settings.home))
    return settings.home


def lienhop(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_keys_cli_prints_a_key_once_and_lists_none(home: Path) -> None:
    code, out, _ = lienhop("members", "add", "HUE", "--name", "Đại học Huế")
    assert code == 0
    create = ("keys", "create", "--scope", "curator", "--member", "hue", "--label", "Huế library")
    code, out, _ = lienhop(*create, "--expires", "2099-12-31")
    assert code == 0, out
    key = out.strip().splitlines()[-1]
    assert key.startswith("lhk_") and len(key) > 40 and " " not in key
    code, out, _ = lienhop("keys", "create", "--scope", "admin", "--label", "office")
    assert code == 0
    admin_key = out.strip().splitlines()[-1]
    code, listed, _ = lienhop("keys", "list")
    assert code == 0 and "Huế library" in listed and "curator" in listed and "HUE" in listed
    assert key not in listed and admin_key not in listed and key[4:20] not in listed
    assert key not in (home / "lienhop.sqlite").read_bytes().decode("latin-1")
    code, out, _ = lienhop("keys", "revoke", "1")
    assert code == 0 and "revoked" in out
    _, listed, _ = lienhop("keys", "list")
    assert "revoked" in listed
    audited = _audit_actions(home)
    assert audited == [
        "keys create 1 (Huế library, curator)",
        "keys create 2 (office, admin)",
        "keys revoke 1 (Huế library)",
    ]
    # bad requests: one error line, exit 2
    for args in (
        ("keys", "create", "--scope", "curator", "--label", "x"),  # no member
        ("keys", "create", "--scope", "admin", "--member", "HUE", "--label", "x"),
        ("keys", "create", "--scope", "root", "--label", "x"),
        ("keys", "create", "--scope", "client", "--member", "NOPE", "--label", "x"),
        ("keys", "create", "--scope", "admin", "--label", "x", "--expires", "2001-01-01"),
        ("keys", "revoke", "99"),
    ):
        code, _, err = lienhop(*args)
        assert code == 2 and err.startswith("error: "), (args, err)


def _audit_actions(home: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(home / "lienhop.sqlite") as db:
        rows = db.execute("SELECT who, action FROM audit_log ORDER BY id").fetchall()
    assert all(who.startswith("cli (") for who, _ in rows)
    return [action for _, action in rows]


def test_serve_refuses_a_public_address_without_an_admin_key(home: Path) -> None:
    code, _, err = lienhop("serve", "--host", "0.0.0.0", "--port", "1")
    assert code == 2
    assert "lienhop keys create --scope admin" in err and "0.0.0.0" in err
    code, _, err = lienhop("serve", "--host", "::", "--port", "1")
    assert code == 2 and "lienhop keys create --scope admin" in err
    assert lienhop("members", "add", "HUE", "--name", "Đại học Huế")[0] == 0
    assert lienhop("keys", "create", "--scope", "curator", "--member", "HUE", "--label", "not enough")[0] == 0
    code, _, err = lienhop("serve", "--host", "192.0.2.1", "--port", "1")
    assert code == 2, "a curator key does not lock the admin routes"


def test_serve_starts_on_a_public_address_once_an_admin_key_exists(home: Path, settings: Settings) -> None:
    from app.cli import _admin_locked

    public = settings.model_copy(update={"host": "0.0.0.0"})
    assert not _admin_locked(public)
    assert _admin_locked(settings)  # 127.0.0.1
    assert _admin_locked(public.model_copy(update={"admin_token": "t0ken-for-bootstrap"}))
    code, _, _ = lienhop("keys", "create", "--scope", "admin", "--label", "office", "--expires", "2099-01-01")
    assert code == 0
    assert _admin_locked(public)


def test_the_secret_is_made_once_and_kept(settings: Settings) -> None:
    first = load_secret(settings)
    assert len(first) >= 32 and load_secret(settings) == first
    assert (settings.home / "secret_key").stat().st_mode & 0o077 == 0
    assert load_secret(settings.model_copy(update={"secret_key": "configured"})) == b"configured"


@pytest.mark.asyncio
async def test_sign_in_sets_a_strict_session_cookie_for_the_admin_pages(
    clients: Clients, app: FastAPI, settings: Settings
) -> None:
    key_id, key = await make_key(app, "admin", label="office")
    _, client_key = await make_key(app, "client", "LIBA")
    http = clients(REMOTE)
    assert (await http.get("/admin/")).headers["location"] == "/admin/sign-in"
    form = (await http.get("/admin/sign-in")).text
    assert 'name="key"' in form and 'type="password"' in form
    bad = await http.post("/admin/sign-in", data={"key": "lhk_wrong"})
    assert bad.status_code == 401 and "unknown key" in bad.text
    assert (await http.post("/admin/sign-in", data={"key": client_key})).status_code == 403
    cross = await http.post("/admin/sign-in", data={"key": key}, headers={"origin": "https://evil.example"})
    assert cross.status_code == 403 and "set-cookie" not in cross.headers
    signed = await http.post("/admin/sign-in", data={"key": key})
    assert signed.status_code == 303 and signed.headers["location"] == "/admin/"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie and key not in cookie
    page = await http.get("/admin/")
    assert page.status_code == 200 and f"key {key_id} (office)" in page.text and "Audit log" in page.text
    # the admin API takes the Authorization header only, never the session
    assert (await http.get("/admin/jobs")).status_code == 401
    # a forged or altered session is no session
    value = http.cookies["lienhop_session"]
    http.cookies.set("lienhop_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"), path="/admin")
    assert (await http.get("/admin/")).status_code == 303
    http.cookies.set("lienhop_session", value, path="/admin")
    await app.state.lienhop.store.revoke_key(key_id)
    assert (await http.get("/admin/")).status_code == 303, "revoking the key ends its sessions"
    audit = (
        await clients(LOOPBACK).get("/admin/audit", headers=bearer((await make_key(app, "admin"))[1]))
    ).json()
    assert any(e["action"] == "POST /admin/sign-in" and e["who"] == f"key {key_id} (office)" for e in audit)


@pytest.mark.asyncio
async def test_the_cookie_is_secure_behind_https(settings: Settings) -> None:
    import httpx

    from app.main import create_app

    app = create_app(settings.model_copy(update={"public_url": "https://lienhop.example.vn"}))
    async with app.router.lifespan_context(app):
        _, key = await make_key(app, "admin")
        transport = httpx.ASGITransport(app=app, client=(REMOTE, 1))
        async with httpx.AsyncClient(transport=transport, base_url="https://lienhop.example.vn") as http:
            signed = await http.post("/admin/sign-in", data={"key": key})
            assert signed.status_code == 303 and "Secure" in signed.headers["set-cookie"]


@pytest.mark.asyncio
async def test_no_log_prints_a_key(clients: Clients, app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key_id, key = await make_key(app, "admin")
    _, client_key = await make_key(app, "client", "LIBA")
    http = clients(REMOTE)
    await http.get("/admin/jobs", headers=bearer(key))
    await http.post(
        "/admin/members", json={"code": "BAD", "name_vi": "x", "oai_url": "ftp://x"}, headers=bearer(key)
    )
    await http.get("/admin/jobs", headers=bearer(key + "x"))
    await http.get("/search", params={"q": "x"}, headers=bearer(client_key))
    await http.post("/admin/sign-in", data={"key": key})
    await http.post("/admin/sign-in", data={"key": key[:-1]})
    await app.state.lienhop.store.revoke_key(key_id)
    await http.get("/admin/jobs", headers=bearer(key))
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records and key not in text and key[4:24] not in text and client_key[4:24] not in text
    # the access log prints request lines: keys given as query parameters are redacted there
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/sushi/reports?api_key={client_key}&begin_date=2026-01", "1.1", 200), None,
    )  # fmt: skip
    RedactKeys().filter(record)
    assert client_key not in record.getMessage() and "begin_date=2026-01" in record.getMessage()
    assert logging.getLogger("uvicorn.access").filters, "the access log is filtered"
