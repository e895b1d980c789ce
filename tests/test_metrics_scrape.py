"""/metrics for Prometheus: the scrape-only Bearer token (api.metrics_token), the
`prometheus.yml` block of docs/deploy.md checked by Debian's promtool, and Debian's Prometheus
really scraping a live daemon with it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import make_config

from enrolld import config as config_mod
from enrolld.daemon import Daemon
from enrolld.bench.mosquitto import free_port
from enrolld.sdnotify import Notifier

ROOT = Path(__file__).resolve().parents[1]
FRS_TOKEN, METRICS_TOKEN = "frs-t0ken", "scrape-only-0123456789"


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian's `prometheus` package; scripts/bootstrap --dev)")
    return path


def docs_scrape_config() -> str:
    """The prometheus.yml block of docs/deploy.md, as written there."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "job_name: enrolld" in b]
    assert len(blocks) == 1, "docs/deploy.md should hold one prometheus.yml block for enrolld"
    return blocks[0]


def get(port: int, path: str, headers: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("metrics")
    config = make_config(tmp_path, api={"port": free_port(), "frs": {"token": FRS_TOKEN}, "metrics_token": METRICS_TOKEN})
    d = Daemon(config, notifier=Notifier({}))
    d.start()
    yield d
    d.stop()


def test_bearer_metrics_token_reads_metrics(daemon):
    status, body = get(daemon.port, "/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200
    assert b"enrolld_outbox_depth" in body


def test_wrong_or_unconfigured_bearer_is_refused_in_the_frs_shape(daemon, tmp_path):
    status, body = get(daemon.port, "/metrics", {"Authorization": "Bearer not-the-token"})
    assert status == 403 and json.loads(body)["error_msg"] == "the metrics token does not match"
    status, body = get(daemon.port, "/metrics", {})
    assert status == 400 and "error_code" in json.loads(body)
    # the other dialects still read it
    assert get(daemon.port, "/metrics", {"X-Auth-Token": FRS_TOKEN})[0] == 200


def test_metrics_token_opens_nothing_but_metrics(daemon):
    status, body = get(daemon.port, "/openapi.json", {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 403 and "error_code" in json.loads(body)
    status, _ = get(daemon.port, "/v2/local/face-sets", {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 403


def test_metrics_token_is_a_redacted_secret_from_the_environment():
    config = config_mod.load(None, environ={"ENROLLD_API_METRICS_TOKEN": "from-env"})
    assert config.api.metrics_token == "from-env"
    assert config_mod.redacted(config)["api"]["metrics_token"] == "***"


def test_promtool_accepts_the_documented_scrape_config(tmp_path):
    promtool = _tool("promtool")
    token_file = tmp_path / "enrolld_metrics_token"
    token_file.write_text(METRICS_TOKEN + "\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(docs_scrape_config().replace("/etc/prometheus/enrolld_metrics_token", str(token_file)))
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_debians_prometheus_scrapes_a_live_daemon_with_the_documented_config(daemon, tmp_path):
    prometheus, promtool = _tool("prometheus"), _tool("promtool")
    token_file = tmp_path / "token"
    token_file.write_text(METRICS_TOKEN + "\n")
    scrape = (docs_scrape_config()
              .replace("/etc/prometheus/enrolld_metrics_token", str(token_file))
              .replace("127.0.0.1:8066", f"127.0.0.1:{daemon.port}"))
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n" + scrape)
    web_port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    process = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{web_port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        target = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/v1/targets", timeout=5) as r:
                    targets = json.loads(r.read())["data"]["activeTargets"]
                target = targets[0] if targets else None
                if target and target["health"] != "unknown":
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        assert target is not None, (tmp_path / "prometheus.log").read_text()[-2000:]
        assert target["health"] == "up", target.get("lastError")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()

    # what it scraped is valid exposition text by Prometheus's own linter
    status, body = get(daemon.port, "/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200
    linted = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_openapi_document_names_the_metrics_token(daemon):
    status, body = get(daemon.port, "/openapi.json", {"X-Auth-Token": FRS_TOKEN})
    document = json.loads(body)
    assert document["components"]["securitySchemes"]["metricsToken"] == {
        "type": "http", "scheme": "bearer", "description": "api.metrics_token: reads /metrics and nothing else"}
    assert {"metricsToken": []} in document["paths"]["/metrics"]["get"]["security"]
