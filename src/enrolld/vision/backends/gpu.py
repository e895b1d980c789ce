"""The GPU backend. By default LiteRT's own GPU accelerator through the CompiledModel API
(webgpu.py: WebGPU over Vulkan, shipped in the ai-edge-litert wheel itself); with
vision.gpu_delegate_library set, that TFLite GPU delegate library instead (a build of
TensorFlow's OpenCL/OpenGL delegate for a board, loaded with experimental_delegates)."""

from __future__ import annotations

from ...errors import AcceleratorError
from .. import litert, models
from . import webgpu
from .loading import load_delegate

DELEGATE_ADVICE = (
    "build or install the TFLite GPU delegate for this board and point "
    "vision.gpu_delegate_library at it (a full path works), leave it empty for LiteRT's own GPU "
    "accelerator, or set vision.accelerator = \"cpu\""
)
WEBGPU_ADVICE = (
    "LiteRT's GPU accelerator runs on Vulkan: install the board's Vulkan driver (Jetson: JetPack's "
    "NVIDIA Vulkan ICD, check with `vulkaninfo --summary`; Raspberry Pi 4/5: mesa-vulkan-drivers), "
    "or set vision.accelerator = \"cpu\" (Mesa's software llvmpipe is no GPU and is refused)"
)


class GpuBackend:
    name = "gpu"
    wants_edgetpu_models = False

    def __init__(self, vision_config, *, loader=None, probe=None):
        library = vision_config.gpu_delegate_library
        self.delegate = None
        if library:
            self.delegate = load_delegate(library, DELEGATE_ADVICE, loader=loader)
            self.via = f"TFLite GPU delegate {library}"
            return
        detector = models.models_dir(vision_config.models_dir) / models.DETECTORS[vision_config.detector].name
        why_not = (probe or webgpu.probe)(str(detector))
        if why_not:
            raise AcceleratorError.with_advice(f"LiteRT GPU accelerator: {why_not}", WEBGPU_ADVICE)
        self.via = "LiteRT CompiledModel, WebGPU accelerator"

    def interpreter(self, model_path: str):
        if self.delegate is None:
            return webgpu.CompiledModelRunner(str(model_path))
        interpreter = litert.Interpreter(model_path=str(model_path), experimental_delegates=[self.delegate])
        interpreter.allocate_tensors()
        return interpreter
