"""``LIENHOP_DEMO_PROVIDER``: the demo OAI-PMH provider is served only when it is on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.demo import setup
from app.main import create_app
from schemas.settings import Settings
from tests.servers import free_port, serve_in_thread

IDENTIFY = {"verb": "Identify"}


async def _identify(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lienhop.test") as http:
            return await http.get("/demo/oai/HUE", params=IDENTIFY)


@pytest.mark.asyncio
async def test_off_by_default(settings: Settings) -> None:
    assert settings.demo_provider is False
    response = await _identify(settings)
    assert response.status_code == 404


@pytest.mark.asyncio
async def test_on_serves_the_demo_repositories(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_DEMO_PROVIDER", "1")
    turned_on = Settings(home=settings.home)
    assert turned_on.demo_provider is True
    response = await _identify(turned_on)
    assert response.status_code == 200 and b"<Identify>" in response.content


def test_lienhop_demo_names_the_switch_when_the_server_lacks_the_provider(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``lienhop serve`` without the provider holds the port: ``lienhop demo`` says what to do."""
    port = free_port()
    monkeypatch.setenv("LIENHOP_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("LIENHOP_PORT", str(port))
    with serve_in_thread(create_app(settings.model_copy(update={"scheduler_seconds": 0})), port=port) as url:
        assert not setup.provider_running(url)
        result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 2, result.output
    assert "LIENHOP_DEMO_PROVIDER=1" in result.stderr


def test_lienhop_demo_uses_a_server_with_the_provider(settings: Settings) -> None:
    on = settings.model_copy(update={"demo_provider": True, "scheduler_seconds": 0})
    with serve_in_thread(create_app(on)) as url:
        assert setup.provider_running(url)
