"""The GPU that every ai-edge-litert wheel carries: LiteRT's CompiledModel API with the
WebGPU accelerator (`libLiteRtWebGpuAccelerator.so`, Vulkan underneath), x86-64 and aarch64
alike. No TensorFlow build, no extra package: a board needs only a Vulkan driver (a Jetson:
JetPack's NVIDIA Vulkan ICD; a Pi 4/5: Mesa's v3dv in `mesa-vulkan-drivers`).

Whether a GPU is usable is asked once per process in a child process (`probe`): creating the
accelerator on a machine without one fails after LiteRT has printed a screen of native log
lines, and a broken GPU driver may crash instead of failing. The child's stderr is read for the
reason ("No adapters found" where Vulkan offers no GPU, e.g. Mesa's software llvmpipe).

`CompiledModelRunner` gives the detector and embedder the few Interpreter calls they make
(get_input_details, set_tensor, invoke, get_tensor, ...) over a CompiledModel, so nothing
above the backend knows which API runs the model.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys

import numpy as np

from .. import litert

PROBE_TIMEOUT_S = 60.0
# What LiteRT says about the GPU, most telling first (its log also names unrelated NPU plugins)
_REASONS = (
    re.compile(r"Failed to initialize WebGPU environment: (?:[A-Z_]+: )?(.+)"),
    re.compile(r"(No adapters found)"),
    re.compile(r"(\S*[Vv]ulkan\S*: .+)"),
    re.compile(r"(Failed to load GPU accelerator.*)"),
)


def _accelerators():
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    # GPU first; an op the GPU lacks runs on the CPU instead of failing the model
    return HardwareAccelerator.GPU | HardwareAccelerator.CPU


@functools.lru_cache(maxsize=None)
def probe(model_path: str) -> str | None:
    """None when the WebGPU accelerator compiles and runs model_path here; else why not."""
    if litert.RUNTIME != "ai-edge-litert":
        return "needs the ai-edge-litert wheel (tflite-runtime has no CompiledModel API)"
    try:
        child = subprocess.run([sys.executable, "-m", __name__, model_path], capture_output=True, text=True,
                               timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"the GPU accelerator did not answer within {PROBE_TIMEOUT_S:.0f} s"
    try:
        answer = json.loads(child.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        answer = {"ok": False, "error": f"the probe exited with {child.returncode}"}
    if answer.get("ok"):
        return None
    for pattern in _REASONS:
        found = pattern.search(child.stderr)
        if found:
            return found.group(1).strip()
    return answer.get("error") or "unknown failure"


class CompiledModelRunner:
    """A LiteRT CompiledModel behind the Interpreter calls the detector and embedder use.
    Tensor details (shapes, dtypes, quantization) come from an interpreter that is never
    allocated; the CompiledModel's signature maps their tensor indices to its buffers."""

    def __init__(self, model_path: str, accelerators=None):
        from ai_edge_litert.compiled_model import CompiledModel

        self._details = litert.Interpreter(model_path=str(model_path))
        self.model = CompiledModel.from_file(str(model_path), hardware_accel=accelerators or _accelerators())
        signature = next(iter(self.model.get_signature_list()))
        names = self.model.get_signature_list()[signature]
        inputs = self.model.get_input_tensor_details(signature)
        outputs = self.model.get_output_tensor_details(signature)
        self._input_slot = {inputs[name]["index"]: i for i, name in enumerate(names["inputs"])}
        self._output_slot = {outputs[name]["index"]: i for i, name in enumerate(names["outputs"])}
        self._output_shape = {outputs[name]["index"]: tuple(outputs[name]["shape"]) for name in names["outputs"]}
        self._output_dtype = {d["index"]: d["dtype"] for d in self._details.get_output_details()}
        self._inputs = self.model.create_input_buffers(0)
        self._outputs = self.model.create_output_buffers(0)

    @property
    def fully_accelerated(self) -> bool:
        return self.model.is_fully_accelerated()

    def get_input_details(self):
        return self._details.get_input_details()

    def get_output_details(self):
        return self._details.get_output_details()

    def allocate_tensors(self) -> None:
        """Buffers exist from the start; kept for the Interpreter's calling convention."""

    def set_tensor(self, index: int, value) -> None:
        self._inputs[self._input_slot[index]].write(np.ascontiguousarray(value))

    def invoke(self) -> None:
        self.model.run_by_index(0, self._inputs, self._outputs)

    def get_tensor(self, index: int) -> np.ndarray:
        shape = self._output_shape[index]
        flat = self._outputs[self._output_slot[index]].read(int(np.prod(shape)), self._output_dtype[index])
        return np.asarray(flat).reshape(shape)


def _probe_main(model_path: str) -> int:
    """In the child: compile for the GPU and run once; one JSON line on stdout."""
    try:
        runner = CompiledModelRunner(model_path)
        for detail in runner.get_input_details():
            runner.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        runner.invoke()
        print(json.dumps({"ok": True, "fully_accelerated": runner.fully_accelerated}))
    except Exception as e:  # noqa: BLE001 - whatever it is, the parent reports it
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"}))
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1]))
