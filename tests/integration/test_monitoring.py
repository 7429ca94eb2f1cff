"""What operators watch: the synthetic probe against a real server (in process and as the
`aethex probe` command), and the Grafana dashboard and alert rules in docs/grafana/, whose
every metric name (and label) must be one that /metrics or the probe's /metrics exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from entrypoints.probe import STEPS, Probe, ProbeMetrics, ProbeUser, parse_duration
from tests.harness import REQUIRED, LiveServer, embedded_settings, free_port, running

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "docs" / "grafana"
USER = ProbeUser("probe@example.com", "probe-password-123", "probe")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
             "gauge": ("",), "summary": ("_sum", "_count", ""), "unknown": ("",)}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running(embedded_settings(tmp_path_factory.mktemp("monitoring"))) as server:
        yield server


@pytest.fixture(scope="module")
def probe_metrics(live: LiveServer) -> ProbeMetrics:
    """Two runs of the probe: the first registers the user and starts the stream, the
    second signs in and finds it live."""
    import asyncio

    metrics = ProbeMetrics()
    probe = Probe(live.url, USER, timeout_s=10)
    for _ in range(2):
        result = asyncio.run(probe.run())
        assert result.ok, result.line()
        assert set(result.latencies) == set(STEPS)
        metrics.record(result)
    return metrics


def test_the_probe_times_every_step(probe_metrics: ProbeMetrics) -> None:
    families = {f.name: f for f in text_string_to_metric_families(
        generate_latest(probe_metrics.registry).decode())}
    assert families["aethex_probe_up"].samples[0].value == 1
    runs = {s.labels["result"]: s.value for s in families["aethex_probe_runs"].samples
            if s.name.endswith("_total")}
    assert runs == {"ok": 2, "failed": 0}
    chat = [s for s in families["aethex_probe_latency_seconds"].samples
            if s.name.endswith("_count") and s.labels["step"] == "chat"]
    assert chat[0].value == 2
    assert 0 < families["aethex_probe_last_latency_seconds"].samples[0].value < 10


def _probe_cli(*args: str, password: str | None = USER.password,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AETHEX_PROBE_EMAIL": USER.email}
    env.pop("AETHEX_PROBE_PASSWORD", None)
    if password is not None:
        env["AETHEX_PROBE_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", "probe", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_probe_command_prints_json_and_fails_loudly(live: LiveServer,
                                                        probe_metrics: ProbeMetrics) -> None:
    done = _probe_cli(live.url, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    line = json.loads(done.stdout)
    assert line["ok"] is True and line["failedStep"] is None
    assert {f"{s}Ms" for s in STEPS} <= line.keys() and line["chatMs"] > 0

    wrong = _probe_cli(live.url, password="not-the-password")
    assert wrong.returncode == 1
    assert wrong.stdout.startswith("FAILED step=signin") and "PROBE_PASSWORD" in wrong.stdout

    down = _probe_cli(f"http://127.0.0.1:{free_port()}", "--timeout", "2s")
    assert down.returncode == 1 and down.stdout.startswith("FAILED step=signin")

    unset = _probe_cli(live.url, password=None)
    assert unset.returncode == 2 and "AETHEX_PROBE_PASSWORD" in unset.stderr


def test_every_keeps_probing_and_serves_metrics(live: LiveServer,
                                                probe_metrics: ProbeMetrics) -> None:
    port = free_port()
    env = {**os.environ, "AETHEX_PROBE_EMAIL": USER.email,
           "AETHEX_PROBE_PASSWORD": USER.password}
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "probe", live.url,
                             "--every", "300ms", "--metrics-port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        deadline, runs = time.monotonic() + 30, 0.0
        while runs < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, "the probe exited"
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            runs = sum(s.value for f in text_string_to_metric_families(text)
                       for s in f.samples if s.name == "aethex_probe_runs_total"
                       and s.labels["result"] == "ok")
            time.sleep(0.1)
        assert runs >= 2
        assert 'aethex_probe_up 1.0' in text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert out.count("ok signin=") >= 2


def test_durations() -> None:
    assert parse_duration("30s") == 30 and parse_duration("500ms") == 0.5
    assert parse_duration("2m") == 120 and parse_duration("1.5") == 1.5
    for bad in ("", "0s", "soon", "-1s", "5d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


# -- dashboards and alerts --------------------------------------------------------------

_SELECTOR = re.compile(r"\b(aethex_[a-z0-9_]+)(\{[^}]*\})?")
_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def _exposed(text: str) -> dict[str, set[str]]:
    """Every sample name a scrape can have (from each family's type, so labelled series
    that have no child yet count too), with the label names seen on it."""
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for suffix in _SUFFIXES.get(family.type, ("",)):
            names.setdefault(family.name + suffix, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every dashboard panel target and every alert rule."""
    out = []
    for path in sorted(GRAFANA.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                out.append((f"{path.name}: {panel['title']}", target["expr"]))
    for group in yaml.safe_load((GRAFANA / "alerts.yml").read_text())["groups"]:
        for rule in group["rules"]:
            out.append((f"alerts.yml: {rule['alert']}", rule["expr"]))
    return out


def test_dashboards_and_alerts_name_only_exposed_metrics(
        live: LiveServer, probe_metrics: ProbeMetrics) -> None:
    scraped = httpx.get(f"{live.url}/metrics", timeout=10).text
    exposed = _exposed(scraped)
    for name, labels in _exposed(generate_latest(probe_metrics.registry).decode()).items():
        exposed.setdefault(name, set()).update(labels)
    queries = _queries()
    assert len(queries) >= 20
    wanted = {"aethex_commands_total", "aethex_group_commit_batch_size_count",
              "aethex_relay_lag_seconds", "aethex_projection_lag_seconds",
              "aethex_websocket_connections", "aethex_http_request_duration_seconds_count",
              "aethex_probe_latency_seconds_bucket", "aethex_projection_stalled"}
    used: set[str] = set()
    for where, expr in queries:
        for name, selector in _SELECTOR.findall(expr):
            used.add(name)
            assert name in exposed, f"{where}: {name} is not in /metrics"
            for label in _LABEL.findall(selector or ""):
                if exposed[name]:  # labels are known once a series exists
                    assert label in exposed[name] | {"instance", "job"}, (
                        f"{where}: {name} has no label {label!r} ({sorted(exposed[name])})")
    assert wanted <= used, f"the dashboard misses {wanted - used}"


def test_alert_rules_are_valid() -> None:
    rules = [r for g in yaml.safe_load((GRAFANA / "alerts.yml").read_text())["groups"]
             for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {"AethexProjectorStalled", "AethexProjectionLagHigh",
                                           "AethexRelayLagHigh", "AethexHighErrorRate"}
    for rule in rules:
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"page", "warn"}
        assert rule["annotations"]["summary"]
    promtool = shutil.which("promtool")
    if promtool is None:
        if REQUIRED:
            pytest.fail("promtool is missing: apt-get install prometheus")
        pytest.skip("promtool is not installed (Debian's prometheus package has it)")
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run([promtool, *args], cwd=GRAFANA, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
