"""The 128-D face descriptor: dlib's ResNet converted to TFLite (models/README.md).

Both committed models take an RGB chip of 0..255 pixels (the normalisation is inside the
graph); the int8 one takes and returns int8, so we quantise and dequantise with the tensors'
own parameters. Descriptors are L2-normalised, so distances lie in [0, 2].
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class FaceEmbedder:
    def __init__(self, interpreter, model_path: str | Path):
        self.interpreter = interpreter
        self.model_id = model_id(model_path)
        self.input = interpreter.get_input_details()[0]
        self.output = interpreter.get_output_details()[0]
        # an 8-bit model's input byte for each pixel value: one table lookup per chip instead
        # of float arithmetic over all of its 67,500 values
        table = _quantize(np.arange(256, dtype=np.float32), self.input)
        self._byte_of_pixel = table.view(np.uint8) if table.itemsize == 1 else None

    def embed(self, chip_bgr: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(chip_bgr, cv2.COLOR_BGR2RGB)
        if self._byte_of_pixel is not None and rgb.dtype == np.uint8:
            tensor = cv2.LUT(rgb, self._byte_of_pixel).view(self.input["dtype"])[None]
        else:
            tensor = _quantize(rgb.astype(np.float32)[None], self.input)
        self.interpreter.set_tensor(self.input["index"], tensor)
        self.interpreter.invoke()
        raw = _dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)[0]
        return (raw / max(float(np.linalg.norm(raw)), 1e-12)).astype(np.float32)


def model_id(model_path: str | Path) -> str:
    """A stable name for the model family that made an embedding. The Edge TPU compilation
    of a model computes the same function, so it shares the id of the int8 model."""
    return Path(model_path).name.removesuffix(".tflite").removesuffix("_edgetpu")


def _quantize(values: np.ndarray, details: dict) -> np.ndarray:
    dtype = details["dtype"]
    if dtype == np.float32:
        return values
    scale, zero_point = details["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, details: dict) -> np.ndarray:
    if details["dtype"] == np.float32:
        return values
    scale, zero_point = details["quantization"]
    return (values.astype(np.float32) - zero_point) * scale
