"""The CPU backend: LiteRT's built-in XNNPACK delegate with a configured thread count."""

from __future__ import annotations

from ...errors import AcceleratorError
from .. import litert


class CpuBackend:
    name = "cpu"
    wants_edgetpu_models = False

    def __init__(self, vision_config):
        if litert.Interpreter is None:
            raise AcceleratorError.with_advice(
                "no TFLite runtime", "install ai-edge-litert (or tflite-runtime where LiteRT has no wheel)"
            )
        self.threads = vision_config.threads

    def interpreter(self, model_path: str):
        interpreter = litert.Interpreter(model_path=str(model_path), num_threads=self.threads)
        interpreter.allocate_tensors()
        return interpreter
