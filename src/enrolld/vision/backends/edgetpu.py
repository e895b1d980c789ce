"""The Coral Edge TPU backend. Only the embedder runs on the TPU (a full-int8 model compiled
by edgetpu_compiler); the float16 BlazeFace detector cannot, so it stays on the CPU."""

from __future__ import annotations

from .. import litert
from .loading import load_delegate
from .cpu import CpuBackend

ADVICE = (
    "install the Edge TPU runtime (Debian package libedgetpu1-std from Coral's apt repository), "
    "plug the Coral in, and check that this user is in the group that owns it (plugdev or apex); "
    "or set vision.accelerator = \"cpu\""
)


class EdgeTpuBackend:
    name = "edgetpu"
    wants_edgetpu_models = True

    def __init__(self, vision_config, *, loader=None):
        self.delegate = load_delegate(vision_config.edgetpu_library, ADVICE, loader=loader)
        self.cpu = CpuBackend(vision_config)

    def interpreter(self, model_path: str):
        if not str(model_path).endswith("_edgetpu.tflite"):
            return self.cpu.interpreter(model_path)
        interpreter = litert.Interpreter(model_path=str(model_path), experimental_delegates=[self.delegate])
        interpreter.allocate_tensors()
        return interpreter
