"""The production compose file keeps its contract (no Docker engine runs here, so it is parsed, not run):
official search and database images, the API with several server workers, an admin key required."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.prod.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _default(value: str) -> str:
    """The value compose uses when the variable is unset: ``${NAME:-default}`` -> ``default``."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", value)
    return match.group(1) if match else value


def test_the_api_runs_several_workers_on_postgres_and_opensearch(compose: dict[str, Any]) -> None:
    services = compose["services"]
    api = services["api"]
    env = api["environment"]
    assert int(_default(str(env["LIENHOP_WORKERS"]))) >= 2
    assert "serve" in api["command"]
    assert env["LIENHOP_DATABASE_URL"].startswith("postgresql://lienhop:")
    assert "@postgres:5432/" in env["LIENHOP_DATABASE_URL"]
    search_host = re.fullmatch(r"http://([\w-]+):9200", env["LIENHOP_ELASTICSEARCH_URL"])
    assert search_host and search_host.group(1) in services
    assert set(api["depends_on"]) <= set(services)


def test_an_admin_key_is_required_to_start(compose: dict[str, Any]) -> None:
    env = compose["services"]["api"]["environment"]
    # ${VAR:?message}: compose refuses to start when the variable is unset or empty.
    assert re.fullmatch(r"\$\{LIENHOP_ADMIN_TOKEN:\?[^}]+\}", env["LIENHOP_ADMIN_TOKEN"])
    assert ":?" in env["LIENHOP_DATABASE_URL"]  # no default database password either


def test_official_images_and_a_search_cluster_that_survives_a_node(compose: dict[str, Any]) -> None:
    services = compose["services"]
    search = {name: s for name, s in services.items() if "opensearch" in str(s.get("image", ""))}
    assert all(s["image"].startswith("opensearchproject/opensearch:") for s in search.values())
    assert services["postgres"]["image"].startswith("postgres:")
    # Three cluster-manager-eligible nodes: a quorum survives losing any one.
    assert len(search) >= 3
    for name, node in search.items():
        assert node["environment"]["node.name"] == name
        seeds = node["environment"]["discovery.seed_hosts"].split(",")
        assert set(seeds) == set(search)
    # Only the API is published; the store and the index are reached over the compose network.
    assert [name for name, s in services.items() if s.get("ports")] == ["api"]
    declared = set(compose["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared
