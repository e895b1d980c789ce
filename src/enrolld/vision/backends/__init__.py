"""Inference backends, one module each, behind one small protocol and an explicit registry.

A backend turns a model path into a ready interpreter. `select()` implements
vision.accelerator: an explicit choice that cannot load stops start-up with an actionable
message; `auto` tries what is present and falls back to the CPU, logging one line that says
which backend serves and why.
"""

from __future__ import annotations

import logging
from typing import Protocol

from ...errors import AcceleratorError
from . import cpu, edgetpu, gpu

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str
    wants_edgetpu_models: bool  # the embedder must be the *_edgetpu.tflite compilation

    def interpreter(self, model_path: str):
        """A LiteRT interpreter for model_path with tensors allocated."""


REGISTRY = {"cpu": cpu.CpuBackend, "edgetpu": edgetpu.EdgeTpuBackend, "gpu": gpu.GpuBackend}
AUTO_ORDER = ("edgetpu", "gpu")  # the CPU always works, so it is the last resort


def select(vision_config, *, registry=None) -> Backend:
    registry = registry or REGISTRY
    choice = vision_config.accelerator
    if choice != "auto":
        backend = registry[choice](vision_config)  # raises AcceleratorError with its advice
        log.info("inference backend: %s (configured)", backend.name)
        return backend
    reasons = []
    for name in AUTO_ORDER:
        try:
            backend = registry[name](vision_config)
        except AcceleratorError as e:
            reasons.append(f"{name}: {e.short}")
            continue
        log.info("inference backend: %s (auto: found it)", backend.name)
        return backend
    backend = registry["cpu"](vision_config)
    log.info("inference backend: cpu with %d XNNPACK thread(s) (auto: %s)", vision_config.threads, "; ".join(reasons))
    return backend
