"""The BlazeFace rebuild in TensorFlow (converter machines only: skipped without TensorFlow):
restated operators, depthwise equalisation and the boxes/keypoints split leave the float
function of MediaPipe's short-range model as it was."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF 2.21's oneDNN kernels crash on this graph
tf = pytest.importorskip("tensorflow", reason="the converter's extra (pip install -e '.[convert]')")

from enrolld.convert import blazeface  # noqa: E402
from enrolld.vision import models  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "models" / models.DETECTORS["short"].name


def photos():
    rng = np.random.default_rng(7)
    smooth = [np.full((128, 128, 3), v, np.uint8) for v in (0, 90, 200)]  # flat frames, like the border
    noisy = [rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(2)]
    return smooth + noisy


def run_float(model_bytes_or_path, rgb, shift=0.0):
    from ai_edge_litert.interpreter import Interpreter

    kwargs = {"model_content": model_bytes_or_path} if isinstance(model_bytes_or_path, bytes) else {
        "model_path": str(model_bytes_or_path)}
    interpreter = Interpreter(**kwargs)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], blazeface.float_domain(rgb) - shift)
    interpreter.invoke()
    outputs = {int(o["shape"][-1]): interpreter.get_tensor(o["index"])[0] for o in interpreter.get_output_details()}
    regressors = outputs[16] if 16 in outputs else np.concatenate([outputs[4], outputs[12]], axis=1)
    return regressors, outputs[1]


def float_tflite(graph) -> bytes:
    function, owner = blazeface.build_tf_function(graph, {})
    return tf.lite.TFLiteConverter.from_concrete_functions([function], owner).convert()


def test_rebuilt_graph_computes_the_original_model():
    graph = blazeface.read_tflite(MODEL)
    assert {op.kind for op in graph.ops} <= blazeface.EDGETPU_OPS | {"RELU"}
    rebuilt = float_tflite(graph)
    for rgb in photos():
        (want_r, want_s), (got_r, got_s) = run_float(MODEL, rgb), run_float(rebuilt, rgb)
        np.testing.assert_allclose(got_r, want_r, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(got_s, want_s, rtol=1e-4, atol=1e-3)


def test_equalisation_split_and_input_shift_keep_the_float_function():
    graph = blazeface.read_tflite(MODEL)
    ranges = blazeface.depthwise_channel_ranges(MODEL, graph, photos())
    assert blazeface.equalize_depthwise(graph, ranges) == 16  # every depthwise feeds a 1x1 conv
    blazeface.split_regressors(graph)
    assert sorted(graph.shapes[t][-1] for t in graph.outputs) == [1, 4, 12]
    rebuilt = float_tflite(graph)
    for rgb in photos():
        want_r, want_s = run_float(MODEL, rgb)
        got_r, got_s = run_float(rebuilt, rgb)
        scale = np.abs(want_r).max()
        np.testing.assert_allclose(got_r, want_r, atol=1e-4 * scale)
        np.testing.assert_allclose(got_s, want_s, atol=1e-4 * np.abs(want_s).max())
    # the int8 input domain: the graph now takes (pixel − 128)/127.5, 1/255 below the original's.
    # Exact but where the first convolution's padding reaches past the image edge, and that
    # spreads over the whole 128 px frame, so the check is on medians: on a black frame the
    # fold leaves 0.002 (median |Δ logit|), leaving the shift out would move them 0.45.
    blazeface.fold_input_shift(graph)
    shifted = float_tflite(graph)
    black = photos()[0]
    want_r, want_s = run_float(MODEL, black)
    got_r, got_s = run_float(shifted, black, shift=blazeface.INPUT_SHIFT)
    assert np.median(np.abs(got_s - want_s)) < 0.02
    assert np.median(np.abs(got_r - want_r)) < 0.05
