"""Delegate selection. CI has no Coral and no GPU, so the real libraries are absent: that is
the real failure path. A fake loader stands in for present hardware."""

import dataclasses
import logging

import pytest

from enrolld import config as config_mod
from enrolld.errors import AcceleratorError, ModelError
from enrolld.vision import backends
from enrolld.vision.backends.cpu import CpuBackend
from enrolld.vision.backends.edgetpu import EdgeTpuBackend
from enrolld.vision.backends.gpu import GpuBackend
from enrolld.vision.pipeline import build_pipeline


def vision(**overrides):
    return dataclasses.replace(config_mod.VisionConfig(), **overrides)


def test_explicit_edgetpu_without_the_runtime_stops_with_advice():
    with pytest.raises(AcceleratorError) as caught:
        backends.select(vision(accelerator="edgetpu"))
    message = str(caught.value)
    assert "libedgetpu.so.1" in message and "libedgetpu1-std" in message and 'accelerator = "cpu"' in message


def test_explicit_gpu_without_the_delegate_stops_with_advice():
    with pytest.raises(AcceleratorError) as caught:
        backends.select(vision(accelerator="gpu", gpu_delegate_library="/nonexistent/libgpu.so"))
    assert "/nonexistent/libgpu.so" in str(caught.value) and "gpu_delegate_library" in str(caught.value)


def test_auto_falls_back_to_cpu_and_says_why_in_one_line(caplog):
    caplog.set_level(logging.INFO, logger="enrolld.vision.backends")
    backend = backends.select(vision(accelerator="auto", threads=2))
    assert backend.name == "cpu"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "cpu" in lines[0] and "2 XNNPACK" in lines[0] and "edgetpu: cannot load" in lines[0]
    assert "gpu: LiteRT GPU accelerator: " in lines[0]  # no GPU here (tests/test_gpu_litert.py)


def fake_loader(library):
    return object()  # a delegate handle as load_delegate would return


def failing_loader(library):
    raise ValueError("Failed to load delegate from " + library)


def test_auto_prefers_an_edgetpu_that_loads():
    registry = dict(backends.REGISTRY, edgetpu=lambda cfg: EdgeTpuBackend(cfg, loader=fake_loader))
    assert backends.select(vision(), registry=registry).name == "edgetpu"


def test_a_delegate_that_fails_inside_litert_is_an_accelerator_error():
    with pytest.raises(AcceleratorError, match="Failed to load delegate"):
        GpuBackend(vision(gpu_delegate_library="libtensorflowlite_gpu_delegate.so"), loader=failing_loader)
    registry = dict(backends.REGISTRY, edgetpu=lambda cfg: EdgeTpuBackend(cfg, loader=failing_loader))
    assert backends.select(vision(), registry=registry).name == "cpu"


def test_edgetpu_runs_the_float_detector_on_the_cpu_and_wants_a_compiled_embedder(tmp_path, monkeypatch):
    backend = EdgeTpuBackend(vision(), loader=fake_loader)
    from enrolld.vision import models

    detector = backend.interpreter(models.detector_path("full", models.default_models_dir()))
    assert detector.get_input_details()[0]["shape"].tolist() == [1, 192, 192, 3]
    monkeypatch.setattr(backends, "REGISTRY", dict(backends.REGISTRY, edgetpu=lambda cfg: EdgeTpuBackend(cfg, loader=fake_loader)))
    config = config_mod.from_dict({"vision": {"accelerator": "edgetpu"}})
    with pytest.raises(ModelError, match="_edgetpu.tflite.*edgetpu_compiler"):
        build_pipeline(config)


def test_cpu_backend_uses_the_configured_threads():
    backend = CpuBackend(vision(threads=3))
    assert backend.threads == 3


def test_auto_with_a_coral_but_no_compiled_model_serves_on_the_cpu(monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(backends, "REGISTRY", dict(backends.REGISTRY, edgetpu=lambda cfg: EdgeTpuBackend(cfg, loader=fake_loader)))
    pipeline = build_pipeline(config_mod.from_dict({"vision": {"accelerator": "auto"}}))
    assert pipeline.backend_name == "cpu"
    assert any("a Coral is here but" in r.getMessage() for r in caplog.records)
