"""docs/api.md's "curl, route by route": every example runs, in order and in one shell, against
a live daemon, and together they cover every route the app serves."""

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import make_config
from sample_images import astronaut_bgr, encode

from enrolld.bench.mosquitto import free_port
from enrolld.daemon import Daemon
from enrolld.enroll import Enrollment
from enrolld.sdnotify import Notifier
from enrolld.store.facestore import FaceStore

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
CREDENTIALS = {"TOKEN": "curl-token", "API_ID": "curl-id", "API_SECRET": "curl-secret", "METRICS_TOKEN": "curl-metrics"}


def examples() -> list[str]:
    """The commands of the section, continuation lines joined; the first block only sets variables."""
    text = DOC.read_text()
    section = text.split("## curl, route by route", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 2, "the section should start with a block of variables, then examples"
    commands = []
    for block in blocks[1:]:
        commands += [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip() and not c.startswith("#")]
    return commands


def route_of(command: str) -> tuple[str, str]:
    """(method, path) a curl example requests, as curl would send it."""
    words = shlex.split(command.split("| python3", 1)[0].split("$(", 1)[-1], comments=True)
    method = words[words.index("-X") + 1] if "-X" in words else ("POST" if {"-d", "-F"} & set(words) else "GET")
    [url] = [w for w in words if w.startswith("$BASE")]
    path = url[len("$BASE"):].split("?", 1)[0].replace("$PROJECT", "local")
    return method, path


@pytest.fixture
def daemon(tmp_path, vision_worker):
    """A daemon whose camera (the folder source) shows a person it knows, so the recognition
    examples have a recognition to list, assign and reject."""
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "1.jpg").write_bytes(encode(astronaut_bgr()))
    config = make_config(
        tmp_path / "state",
        api={"port": free_port(), "metrics_token": CREDENTIALS["METRICS_TOKEN"],
             "frs": {"project_id": "local", "token": CREDENTIALS["TOKEN"]},
             "accuauth": {"api_id": CREDENTIALS["API_ID"], "api_secret": CREDENTIALS["API_SECRET"]}},
        capture={"source": "folder", "folder": str(frames), "face_set": "kiosk"},
        recognize={"enabled": True, "fps": 20.0, "idle_recheck_s": 0.2},
    )
    store = FaceStore(config)
    try:
        store.create_face_set("kiosk")
        Enrollment(vision_worker, store, config).enroll_photo("kiosk", encode(astronaut_bgr()), person_id=7)
        store.set_person_name(7, "Eileen Collins")
    finally:
        store.close()
    d = Daemon(config, notifier=Notifier({}))
    d.start()
    deadline = time.monotonic() + 60
    while not any(r.match for r in d.recognition.recent.list()):
        assert time.monotonic() < deadline, "the camera did not recognize the person it knows"
        time.sleep(0.05)
    yield d
    d.stop()


def test_every_route_has_a_curl_example():
    from enrolld import config as config_mod
    from enrolld.api.app import ApiServices, create_app
    from enrolld.store.facestore import FaceStore

    import tempfile

    with tempfile.TemporaryDirectory() as state:
        config = config_mod.from_dict({"device": {"state_dir": state}, "mqtt": {"enabled": False}})
        store = FaceStore(config)
        try:
            app = create_app(config, ApiServices(store=store, vision=None))
        finally:
            store.close()
    adapter = app.url_map.bind("appliance")
    covered = {adapter.match(path, method)[0] for method, path in map(route_of, examples())}
    # the browser page (web.*: a session cookie and forms, /ui/...) is not part of the HTTP API
    served = {rule.endpoint for rule in app.url_map.iter_rules()
              if rule.endpoint != "static" and not rule.endpoint.startswith("web.")}
    assert served - covered == set(), "routes without a curl example in docs/api.md"


def test_every_curl_example_runs_against_a_live_daemon(daemon, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (scripts/bootstrap --dev installs it)")
    photo = tmp_path / "alice.jpg"
    photo.write_bytes(encode(astronaut_bgr()))
    commands = examples()
    script = ["set -euo pipefail"]
    for number, command in enumerate(commands):
        script += [f"echo '@@ {number}' >&2", command, "echo"]
    env = dict(os.environ, BASE=f"http://127.0.0.1:{daemon.port}", PROJECT="local", PHOTO=str(photo), **CREDENTIALS)
    result = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    reached = re.findall(r"@@ (\d+)", result.stderr)
    failed_at = commands[int(reached[-1])] if reached else "before the first example"
    assert result.returncode == 0, f"failed at: {failed_at}\n{result.stderr[-2000:]}"
    assert len(reached) == len(commands)
    assert '"face_set_name"' in result.stdout and '"status":"OK"' in result.stdout.replace(" ", "")
