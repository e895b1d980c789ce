"""The GPU delegate backend (Jetson, or a Pi with an OpenCL/OpenGL ES driver): both models
run through the configured TFLite GPU delegate library."""

from __future__ import annotations

from .. import litert
from .loading import load_delegate

ADVICE = (
    "build or install the TFLite GPU delegate for this board and point "
    "vision.gpu_delegate_library at it (a full path works), or set vision.accelerator = \"cpu\""
)


class GpuBackend:
    name = "gpu"
    wants_edgetpu_models = False

    def __init__(self, vision_config, *, loader=None):
        library = vision_config.gpu_delegate_library
        self.delegate = load_delegate(library, ADVICE, loader=loader)

    def interpreter(self, model_path: str):
        interpreter = litert.Interpreter(model_path=str(model_path), experimental_delegates=[self.delegate])
        interpreter.allocate_tensors()
        return interpreter
