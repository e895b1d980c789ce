"""vision.accelerator = "gpu" through LiteRT's CompiledModel API and its WebGPU accelerator.

This machine has no GPU, and Debian's mesa-vulkan-drivers (installed by scripts/bootstrap
--dev) offers only llvmpipe, a software Vulkan device the accelerator refuses with "No
adapters found": the real "GPU absent" case, so `auto` falls back and an explicit `gpu` fails
with advice. The CompiledModel adapter the GPU path runs through is checked against the
Interpreter on LiteRT's CPU accelerator (the same adapter, another accelerator flag)."""

import dataclasses
import glob
import logging

import numpy as np
import pytest
from conftest import jpeg

from enrolld import config as config_mod
from enrolld.cli import main
from enrolld.errors import AcceleratorError
from enrolld.vision import backends, litert, models
from enrolld.vision.backends import webgpu
from enrolld.vision.backends.gpu import GpuBackend

LLVMPIPE_ONLY = bool(glob.glob("/usr/share/vulkan/icd.d/lvp_icd*.json"))


def vision(**overrides):
    return dataclasses.replace(config_mod.VisionConfig(), **overrides)


def test_explicit_gpu_without_a_gpu_fails_with_the_reason_and_advice():
    with pytest.raises(AcceleratorError) as caught:
        backends.select(vision(accelerator="gpu"))
    message = str(caught.value)
    assert message.startswith("LiteRT GPU accelerator: ")
    if LLVMPIPE_ONLY:
        assert caught.value.short == "LiteRT GPU accelerator: No adapters found"
    assert "Vulkan driver" in message and "vulkaninfo" in message and 'vision.accelerator = "cpu"' in message


def test_auto_falls_back_to_the_cpu_in_one_line_naming_the_gpu_reason(caplog):
    caplog.set_level(logging.INFO, logger="enrolld.vision.backends")
    backend = backends.select(vision(accelerator="auto"))
    assert backend.name == "cpu"
    [line] = [r.getMessage() for r in caplog.records]
    assert "inference backend: cpu" in line and "gpu: LiteRT GPU accelerator: " in line
    if LLVMPIPE_ONLY:
        assert "No adapters found" in line


def test_the_cli_says_it_in_one_line_and_exits_2(tmp_path, capsys, astronaut_jpeg):
    config = tmp_path / "gpu.toml"
    config.write_text('[vision]\naccelerator = "gpu"\n')
    image = tmp_path / "a.jpg"
    image.write_bytes(astronaut_jpeg)
    assert main(["analyze", str(image), "--config", str(config)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("enrolld: ")]
    assert len(err) == 1 and "LiteRT GPU accelerator" in err[0] and "Vulkan" in err[0]


def test_a_gpu_the_probe_accepts_runs_models_through_the_compiled_model():
    backend = GpuBackend(vision(), probe=lambda model: None)  # as on a board with a Vulkan GPU
    assert backend.via == "LiteRT CompiledModel, WebGPU accelerator"
    assert backend.delegate is None


def test_the_probe_answer_is_cached_per_model():
    detector = str(models.default_models_dir() / models.DETECTORS["full"].name)
    webgpu.probe.cache_clear()
    first = webgpu.probe(detector)
    assert webgpu.probe(detector) is first and webgpu.probe.cache_info().hits == 1


@pytest.mark.parametrize("name", ["face_detection_full_range.tflite", "face_embedder_dlib_resnet_int8.tflite",
                                  "face_embedder_dlib_resnet_f16.tflite"])
def test_compiled_model_runner_agrees_with_the_interpreter(name, astronaut_rgb):
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    path = str(models.default_models_dir() / name)
    reference = litert.Interpreter(model_path=path)
    reference.allocate_tensors()
    runner = webgpu.CompiledModelRunner(path, HardwareAccelerator.CPU)
    [detail] = runner.get_input_details()
    assert detail["shape"].tolist() == reference.get_input_details()[0]["shape"].tolist()
    height, width = detail["shape"][1:3]
    import cv2

    pixels = cv2.resize(cv2.imdecode(np.frombuffer(jpeg(astronaut_rgb), np.uint8), cv2.IMREAD_COLOR), (width, height))
    if detail["dtype"] == np.float32:
        tensor = (pixels[None].astype(np.float32) / 127.5) - 1.0
    else:
        tensor = (pixels[None].astype(np.int16) - 128).astype(detail["dtype"])
    for interpreter in (reference, runner):
        interpreter.set_tensor(detail["index"], tensor)
        interpreter.invoke()
    for output in reference.get_output_details():
        ours = runner.get_tensor(output["index"]).astype(np.float32)
        theirs = reference.get_tensor(output["index"]).astype(np.float32)
        assert ours.shape == theirs.shape
        cosine = float(ours.ravel() @ theirs.ravel() / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
        assert cosine >= 0.999, (name, output["name"], cosine)
