"""The committed TFLite embedders against the numpy reference on real aligned face chips,
and against the sha256 table in models/README.md."""

import re
from pathlib import Path

import numpy as np
import pytest

from enrolld.convert.dlib_dat import file_sha256
from enrolld.convert.resnet_numpy import face_descriptor, load_resnet
from enrolld.convert.to_tflite import (
    F16_MODEL_NAME,
    INT8_MODEL_NAME,
    cosine,
    image_files,
    load_rgb,
    run_interpreter,
)

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
SHARED_FACES = REPO.parent / "shared" / "faces"  # evaluation photos, never copied into the repo
MIN_COSINE = {F16_MODEL_NAME: 0.999, INT8_MODEL_NAME: 0.99}
SHARED_PHOTOS = 6

dlib = pytest.importorskip("dlib", reason="dlib-bin cuts the reference chips")


def readme_table() -> dict[str, tuple[int, str]]:
    """file name -> (bytes, sha256), from the models/README.md table rows."""
    row = re.compile(r"^\|\s*`?([\w.-]+\.tflite)`?\s*\|\s*([\d,]+)\s*\|\s*`?([0-9a-f]{64})`?\s*\|",
                     re.MULTILINE)
    text = (MODELS / "README.md").read_text()
    return {name: (int(size.replace(",", "")), sha) for name, size, sha in row.findall(text)}


@pytest.fixture(scope="module")
def weights():
    return load_resnet()


@pytest.fixture(scope="module")
def cutter():
    from enrolld.convert.to_tflite import DlibChipCutter

    return DlibChipCutter()


@pytest.fixture(scope="module", params=[F16_MODEL_NAME, INT8_MODEL_NAME])
def model(request):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(MODELS / request.param), num_threads=1)
    interpreter.allocate_tensors()
    return request.param, interpreter


def assert_agrees(model, weights, chips):
    name, interpreter = model
    cosines = [cosine(run_interpreter(interpreter, chip), face_descriptor(weights, chip))
               for chip in chips]
    assert min(cosines) >= MIN_COSINE[name], f"{name}: cosines {np.round(cosines, 5)}"


def test_readme_lists_both_models_with_their_sha256():
    table = readme_table()
    assert set(table) >= {F16_MODEL_NAME, INT8_MODEL_NAME}
    for name, (size, sha256) in table.items():
        path = MODELS / name
        assert path.stat().st_size == size, f"{name}: size differs from models/README.md"
        assert file_sha256(path) == sha256, f"{name}: sha256 differs from models/README.md"


def test_io_contract(model):
    name, interpreter = model
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert list(source["shape"]) == [1, 150, 150, 3] and list(target["shape"]) == [1, 128]
    if name == INT8_MODEL_NAME:
        assert source["dtype"] == target["dtype"] == np.int8
        assert source["quantization"] == (1.0, -128)  # int8 = pixel - 128
        assert target["quantization"][0] > 0
    else:
        assert source["dtype"] == target["dtype"] == np.float32


@pytest.fixture(scope="module")
def astronaut_chip(cutter):
    from skimage import data  # public-domain NASA photo

    return cutter(data.astronaut())[0]


@pytest.fixture(scope="module")
def shared_chips(cutter):
    """The largest face of the first photo of the first few identities, or None."""
    if not SHARED_FACES.is_dir():
        return None
    folders = sorted(d for d in (SHARED_FACES / "ids").iterdir() if d.is_dir())
    photos = [files[0] for files in map(image_files, folders) if files][:SHARED_PHOTOS]
    return [found[0] for found in (cutter(load_rgb(p)) for p in photos) if found]


def test_agrees_with_numpy_on_astronaut(model, weights, astronaut_chip):
    assert_agrees(model, weights, [astronaut_chip])


def test_agrees_with_numpy_on_shared_photos(model, weights, shared_chips):
    if shared_chips is None:
        pytest.skip(f"{SHARED_FACES} is absent: only the astronaut chip was checked")
    assert len(shared_chips) >= SHARED_PHOTOS - 1, "dlib found too few faces in the shared photos"
    assert_agrees(model, weights, shared_chips)
