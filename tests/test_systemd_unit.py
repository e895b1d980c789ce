"""systemd/enrolld.service: what a hardened notify service needs, and `systemd-analyze verify`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from enrolld import config as config_mod

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "enrolld.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_notify_watchdog_restart_user_and_state():
    d = directives()
    assert d["Type"] == ["notify"]
    assert d["WatchdogSec"] and d["Restart"] == ["on-failure"]
    assert d["User"] == ["enrolld"] and d["StateDirectory"] == ["enrolld"]
    assert "serve" in d["ExecStart"][0]


def test_sandboxing_of_a_network_daemon():
    d = directives()
    for key, value in {
        "ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
        "ProtectHome": "yes", "DevicePolicy": "closed",
    }.items():
        assert d[key] == [value], key
    assert any("video4linux" in v for v in d["DeviceAllow"])
    assert any("gpiochip" in v for v in d["DeviceAllow"])


def test_every_credential_is_a_secret_the_config_reads():
    secrets = set(config_mod._secret_paths(config_mod.Config, ""))
    names = [v.split(":", 1)[0] for v in directives()["LoadCredential"]]
    assert names and set(names) <= secrets


def test_stop_timeout_leaves_room_for_the_daemons_own_budget():
    stop = float(directives()["TimeoutStopSec"][0])
    assert config_mod.DeviceConfig().stop_timeout_s < stop


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_passes(tmp_path):
    # verify checks that ExecStart exists: point it at this environment's enrolld.
    enrolld = Path(sys.executable).with_name("enrolld")
    if not enrolld.exists():
        pytest.skip("the enrolld console script is not installed in this environment")
    unit = tmp_path / "enrolld.service"
    unit.write_text(UNIT.read_text().replace("/opt/enrolld/venv/bin/enrolld", str(enrolld)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, cwd=tmp_path)
    # verify exits 0 on many problems and only warns: any line about our unit is a failure.
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "enrolld.service" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
