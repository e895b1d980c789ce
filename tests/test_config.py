import dataclasses
import tomllib
from pathlib import Path

import pytest

from enrolld import config as config_mod
from enrolld.cli import main
from enrolld.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def leaves(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from leaves(value, prefix + f.name + ".")
        else:
            yield prefix + f.name, value


def test_example_documents_every_key_with_its_default():
    example = config_mod.load(EXAMPLE, environ={})
    assert dict(leaves(example)) == dict(leaves(config_mod.Config()))
    documented = tomllib.loads(EXAMPLE.read_text())

    def dotted(table, prefix=""):
        for key, value in table.items():
            if isinstance(value, dict):
                yield from dotted(value, prefix + key + ".")
            else:
                yield prefix + key

    assert set(dotted(documented)) == set(dict(leaves(config_mod.Config())))


def test_unknown_keys_are_rejected_with_their_path(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[api.frs]\nprojectid = 'x'\n")
    with pytest.raises(ConfigError, match=r"unknown key: api\.frs\.projectid"):
        config_mod.load(path, environ={})
    path.write_text("[nonsense]\n")
    with pytest.raises(ConfigError, match="unknown key: nonsense"):
        config_mod.load(path, environ={})


@pytest.mark.parametrize(
    "text, message",
    [
        ("[api]\nport = 'eighty'", r"api\.port: expected int"),
        ("[vision]\nthreads = true", r"vision\.threads: expected int"),
        ("[vision]\naccelerator = 'tpu'", r"vision\.accelerator: must be one of"),
        ("[api]\nurl_fetch_hosts = 'a'", r"api\.url_fetch_hosts: expected a list"),
        ("[device]\nnode = 5000", r"device\.node"),
        ("[api.frs]\naccess_key = 'ak'", "access_key and secret_key must be set together"),
        ("api = 3", r"api: expected a table"),
        ("[api\n", "not valid TOML"),
    ],
)
def test_bad_values_are_explained(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        config_mod.load(path, environ={})


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        config_mod.load("/nonexistent/enrolld.toml", environ={})


def test_ints_are_accepted_for_floats():
    assert config_mod.from_dict({"quality": {"min_sharpness": 10}}).quality.min_sharpness == 10.0


def test_secrets_come_from_environment_and_credentials(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "api.accuauth.api_secret").write_text("from-systemd\n")
    config = config_mod.load(None, environ={"ENROLLD_API_FRS_SECRET_KEY": "sk", "ENROLLD_API_FRS_ACCESS_KEY": "ak",
                                            "CREDENTIALS_DIRECTORY": str(creds)})
    assert config.api.frs.secret_key == "sk" and config.api.accuauth.api_secret == "from-systemd"
    shown = config_mod.redacted(config)
    assert shown["api"]["frs"]["secret_key"] == "***" and shown["api"]["accuauth"]["api_secret"] == "***"


def test_check_config_command(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text("[api.frs]\ntoken = 'hunter2'\n")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr()
    assert "OK" in out.err and "hunter2" not in out.out and '"token": "***"' in out.out
    path.write_text("[api]\nprot = 1\n")
    assert main(["check-config", str(path)]) == 2
    assert "unknown key: api.prot" in capsys.readouterr().err


def test_store_path_is_under_state_dir():
    config = config_mod.from_dict({"device": {"state_dir": "/var/lib/enrolld"}})
    assert str(config.store_path) == "/var/lib/enrolld/enrolld.sqlite3"
    assert str(config_mod.from_dict({"store": {"path": "/data/x.db"}}).store_path) == "/data/x.db"
