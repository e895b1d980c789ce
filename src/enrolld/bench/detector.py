"""`enrolld bench detector`: float against int8 BlazeFace, interleaved in one run.

Each round times every model (full and short range, float and int8) for the same number of
invokes on the same letterboxed photos, so a busy machine slows all four alike; the medians of
the rounds are printed, with how many XNNPACK partitions each model has (1: XNNPACK runs all
of it; more: an operator XNNPACK lacks split the graph and runs on the reference kernels)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from ..vision import models
from ..vision.detector import SPECS, letterbox
from .pipeline import image_files, load_average

ROUNDS = 5


def _interpreter(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def xnnpack_partitions(interpreter) -> int:
    """How many delegate nodes LiteRT made: 1 when XNNPACK runs the whole model; more when an
    operator it lacks splits the graph (that operator then runs on the reference kernels)."""
    ops = interpreter._get_ops_details()  # noqa: SLF001 - LiteRT's only view of the plan
    return sum(op["op_name"] == "DELEGATE" for op in ops)


def bench_detector(directory: Path, models_dir: Path, threads: int = 1, invokes: int = 40) -> dict:
    photos = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in image_files(directory)[:invokes]]
    photos = [p for p in photos if p is not None]
    runs = {}
    for kind in ("full", "short"):
        tensors = [letterbox(p, SPECS[kind].input_size)[0] for p in photos]
        as_int8 = [(np.rint(t * 127.5 + 127.5) - 128).astype(np.int8) for t in tensors]
        for precision in ("float", "int8"):
            interpreter = _interpreter(models.detector_path(kind, models_dir, precision), threads)
            runs[f"{kind}_{precision}"] = (interpreter, as_int8 if precision == "int8" else tensors)
    times = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, (interpreter, inputs) in runs.items():
            index = interpreter.get_input_details()[0]["index"]
            interpreter.set_tensor(index, inputs[0])
            interpreter.invoke()  # warm
            started = time.perf_counter()
            for tensor in inputs:
                interpreter.set_tensor(index, tensor)
                interpreter.invoke()
            times[name].append((time.perf_counter() - started) * 1000 / len(inputs))
    result = {"photos": len(photos), "threads": threads, "rounds": ROUNDS}
    result.update({f"{name}_ms": round(statistics.median(t), 2) for name, t in times.items()})
    result["xnnpack_partitions"] = {name: xnnpack_partitions(interpreter) for name, (interpreter, _) in runs.items()}
    result["loadavg"] = load_average()
    return result
