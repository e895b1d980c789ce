"""check-config refuses each broken configuration the field saw, names every problem by its
key in one run, and suggests the key that was meant."""

import pytest

from enrolld import config as config_mod
from enrolld.cli import main
from enrolld.errors import ConfigError

BROKEN = [
    ("[api]\nport = 70000", "api.port: must be between 1 and 65535; got 70000"),
    ("[mqtt]\nport = 0", "mqtt.port: must be between 1 and 65535; got 0"),
    ("[device]\nid = 'kiosk/#+'", "device.id: 'kiosk/#+' holds '+' '#' '/', which MQTT topic levels cannot contain"),
    ("[device]\nid = ''", "device.id: must not be empty"),
    ("[mqtt]\ntls = true\nca_file = '/nonexistent/ca.pem'", "mqtt.ca_file: no such file: /nonexistent/ca.pem"),
    ("[mqtt]\ntls = true\ncert_file = '/nonexistent/c.pem'\nkey_file = '/nonexistent/k.pem'", "mqtt.key_file: no such file"),
    ("[vision]\nmin_detection_score = 1.5", "vision.min_detection_score: must be between 0.0 and 1.0; got 1.5"),
    ("[vision]\nqueue_size = 0", "vision.queue_size: must be at least 1; got 0"),
    ("[vision]\ntimeout_s = 0", "vision.timeout_s: must be at least 0.1"),
    ("[vision]\nmodels_dir = '/nonexistent/models'", "vision.models_dir: no such folder"),
    ("[vision]\naccelerator = 'gpu'\ngpu_delegate_library = '/nonexistent/libgpu.so'", "vision.gpu_delegate_library: no such file"),
    ("[quality]\nmin_score = -0.1", "quality.min_score: must be between 0.0 and 1.0"),
    ("[mqtt]\ntopic_prefix = 'site/#'", "mqtt.topic_prefix: 'site/#' holds '#'"),
    ("[mqtt]\ntopic_prefix = 'site//x'", "mqtt.topic_prefix: 'site//x' has an empty topic level"),
    ("[mqtt]\nca_file = '/etc/hostname'", "mqtt.tls: must be true when mqtt.ca_file"),
    ("[mqtt]\nreconnect_min_s = 5.0\nreconnect_max_s = 1.0", "mqtt.reconnect_max_s: must not be below mqtt.reconnect_min_s"),
    ("[store]\ndefault_capacity = 0", "store.default_capacity: must be at least 1"),
    ("[api]\nthreads = 0", "api.threads: must be between 1 and 256"),
    ("[capture]\nsource = 'folder'", 'capture.folder: must be set when capture.source = "folder"'),
    ("[capture]\nbutton_pin = 17\nled_pin = 17", "capture.led_pin: must not be the same GPIO"),
    ("[api]\nmax_header_kb = 4", "api.max_header_kb: must be between 8 and 1024; got 4"),
    ("[api]\nthreads = 8\nconnection_limit = 10", "api.connection_limit: must leave room above api.threads"),
    ("[api.frs]\nprojectid = 'x'", "unknown key: api.frs.projectid (did you mean api.frs.project_id?)"),
    ("[api]\nha_prefix = 'x'", "unknown key: api.ha_prefix (did you mean mqtt.ha_prefix?)"),
]


@pytest.mark.parametrize("text, message", BROKEN, ids=[m.split(":")[0] for _, m in BROKEN])
def test_check_config_refuses_each_broken_config_with_its_key(tmp_path, capsys, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"enrolld: {path}: "), err  # one line on stderr
    assert message in err


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[device]\nid = 'kiosk/#+'\n"
        "[api]\nport = 70000\nthraeds = 4\n"
        "[vision]\nmin_detection_score = 1.5\nqueue_size = 0\nthreads = 'two'\n"
        "[mqtt]\ntls = true\nca_file = '/nonexistent/ca.pem'\n"
    )
    with pytest.raises(ConfigError) as error:
        config_mod.load(path, environ={})
    problems = error.value.problems
    keys = sorted(p.split(":")[0] for p in problems)
    assert keys == sorted(["device.id", "api.port", "unknown key", "vision.min_detection_score",
                           "vision.queue_size", "vision.threads", "mqtt.ca_file"]), problems
    assert "(did you mean api.threads?)" in str(error.value)
    assert str(error.value).startswith(f"{path}: 7 problems: ")


def test_serve_refuses_a_broken_config_before_starting_anything(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text(f"[device]\nstate_dir = '{tmp_path / 'state'}'\n[api]\nport = 70000\n")
    assert main(["serve", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "api.port: must be between 1 and 65535" in err and "Traceback" not in err
    assert not (tmp_path / "state").exists()


def test_the_example_and_the_defaults_pass():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    assert main(["check-config", str(example)]) == 0
    config_mod.validate(config_mod.Config())
