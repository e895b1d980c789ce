"""The Coral Edge TPU backend. A model runs on the TPU when it is an `edgetpu_compiler`
compilation (*_edgetpu.tflite) of one of our full-int8 models: the embedder always, the
detectors with vision.detector_precision = "int8" once their compilations are in models/
(models/README.md says how); every other model (MediaPipe's float detectors) stays on the CPU."""

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
