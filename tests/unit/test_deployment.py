"""The deployment files: docker-compose.yml goes live out of the box (the ingest hook token
is required, every long-running service has a health check), the image installs its
dependencies before copying the sources (so a rebuild after a code change is cached), and
the ingest image renders its ladder with the same code the API uses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.ingest.ladder import template_values

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_ingest_hook_token_is_required_like_the_jwt_secret(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("migrate", "api", "relay", "projectors", "media"):
        env = services[name]["environment"]
        assert env["AETHEX_INGEST_HOOK_TOKEN"].startswith("${AETHEX_INGEST_HOOK_TOKEN:?"), name
        assert env["AETHEX_JWT_SECRET"].startswith("${AETHEX_JWT_SECRET:?"), name
    query = services["ingest"]["environment"]["HOOK_QUERY"]
    assert query.startswith("?token=${AETHEX_INGEST_HOOK_TOKEN:?")


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "rabbitmq", "redis", "api", "relay", "projectors", "media",
                 "ingest"):
        check = services[name].get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
    for name in ("relay", "projectors", "media"):  # workers answer on their health port
        assert services[name]["environment"]["AETHEX_HEALTH_PORT"] == "8081"
        assert "8081/health/live" in " ".join(services[name]["healthcheck"]["test"])
    ingest = " ".join(services["ingest"]["healthcheck"]["test"])
    assert "8080/healthz" in ingest and "1935" in ingest
    assert "location = /healthz" in (
        ROOT / "infra/ingest/nginx/nginx.conf.template").read_text()
    # the media worker reads the recordings nginx writes
    assert "ingest:/var/lib/aethex-ingest" in services["media"]["volumes"]
    assert services["media"]["command"] == ["aethex", "media"]


def test_the_image_installs_dependencies_before_the_sources() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    manifest = lines.index("COPY pyproject.toml /src/pyproject.toml")
    sources = lines.index("COPY . /src")
    installs = [i for i, line in enumerate(lines) if "pip install -r" in line]
    assert installs and manifest < installs[0] < sources
    assert any("pip install --no-deps /src" in line for line in lines[sources:])


def test_compose_config_validates_and_refuses_a_missing_token() -> None:
    if shutil.which("docker-compose") is None:
        message = "docker-compose is not installed (.ci/run installs it)"
        if os.environ.get("AETHEX_REQUIRE_SERVICES", "") not in ("", "0", "false"):
            pytest.fail(message)
        pytest.skip(message)
    base = {k: v for k, v in os.environ.items() if not k.startswith("AETHEX_")}
    secrets = {"AETHEX_JWT_SECRET": "x", "AETHEX_WEBHOOK_SECRET_KEY": "k",
               "AETHEX_INGEST_HOOK_TOKEN": "t"}
    ok = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True,
                        text=True, env={**base, **secrets})
    assert ok.returncode == 0, ok.stderr
    del secrets["AETHEX_INGEST_HOOK_TOKEN"]
    missing = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True,
                             text=True, env={**base, **secrets})
    assert missing.returncode != 0 and "set a token for the ingest hooks" in missing.stderr


def test_the_ingest_entrypoint_renders_the_ladder_the_api_computes() -> None:
    names = ["HLS_SOURCE", "HLS_SOURCE_SUBDIR", "HLS_LADDER", "LADDER_EXEC", "HLS_MASTER"]
    script = ('eval "$(python3 infra/ingest/ladder.py "$Q" 127.0.0.1:1935)"; printf "'
              + "\\n--\\n".join(["%s"] * len(names)) + '" '
              + " ".join(f'"${name}"' for name in names))
    for qualities in ("source", "360p,240p:300", "source,360p,240p:300"):
        out = subprocess.run(["sh", "-c", script], cwd=ROOT, capture_output=True, text=True,
                             env={"PATH": os.environ["PATH"], "Q": qualities}, check=True)
        want = template_values(qualities, "127.0.0.1:1935")
        assert set(want) == set(names)
        assert out.stdout.split("\n--\n") == [want[name] for name in names]


def test_the_ingest_entrypoint_substitutes_every_placeholder_of_the_template() -> None:
    """envsubst is given the names to replace (so nginx's own `$variables` stay): a
    placeholder missing from its list would reach nginx as written."""
    entrypoint = (ROOT / "infra/ingest/nginx/entrypoint.sh").read_text()
    [listed] = re.findall(r"envsubst '([^']*)'", entrypoint)
    template = (ROOT / "infra/ingest/nginx/nginx.conf.template").read_text()
    assert set(listed.split()) == set(re.findall(r"\$\{[A-Z_]+\}", template))
