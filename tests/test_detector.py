import numpy as np

from enrolld.vision import detector


def test_anchor_counts_and_order_match_the_models():
    short = detector.anchors(detector.SPECS["short"])
    full = detector.anchors(detector.SPECS["full"])
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # first cell of the 16×16 grid, twice (two anchors per cell), then the next cell along x
    np.testing.assert_allclose(short[:3], [[1 / 32, 1 / 32], [1 / 32, 1 / 32], [3 / 32, 1 / 32]])
    # the 8×8 group starts after 512 anchors with 6 per cell
    np.testing.assert_allclose(short[512:519], [[1 / 16, 1 / 16]] * 6 + [[3 / 16, 1 / 16]])
    np.testing.assert_allclose(full[48], [1 / 96, 3 / 96])  # second row of the 48×48 grid


def test_box_decoding_is_relative_to_the_anchor_in_input_pixels():
    raw = np.zeros((1, 16), np.float32)
    raw[0, :4] = [12.8, -6.4, 32.0, 64.0]  # dx, dy, w, h in input pixels (128)
    raw[0, 4:6] = [0.0, 12.8]
    boxes, keypoints = detector.decode_boxes(raw, np.array([[0.5, 0.5]], np.float32), 128)
    np.testing.assert_allclose(boxes[0], [0.6 - 0.125, 0.45 - 0.25, 0.6 + 0.125, 0.45 + 0.25], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 0], [0.5, 0.6], atol=1e-6)


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keypoints = np.stack([np.full((6, 2), v, np.float32) for v in (0.0, 2.0, 55.0)])
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    kept = detector.weighted_nms(boxes, keypoints, scores)
    assert len(kept) == 2
    merged_box, merged_points, merged_score = kept[0]
    assert merged_score == np.float32(0.9)
    np.testing.assert_allclose(merged_box, (boxes[0] * 0.9 + boxes[1] * 0.3) / 1.2, atol=1e-5)
    np.testing.assert_allclose(merged_points[0], [0.5, 0.5], atol=1e-5)
    np.testing.assert_allclose(kept[1][0], boxes[2])


def test_iou():
    assert detector.iou(np.array([0, 0, 10, 10.0]), np.array([[0, 0, 10, 10.0]]))[0] == 1.0
    assert detector.iou(np.array([0, 0, 10, 10.0]), np.array([[20, 20, 30, 30.0]]))[0] == 0.0
    np.testing.assert_allclose(detector.iou(np.array([0, 0, 10, 10.0]), np.array([[5, 0, 15, 10.0]])), [1 / 3])


def test_letterbox_keeps_aspect_and_scales_to_minus_one_one():
    image = np.full((100, 200, 3), 255, np.uint8)
    tensor, scale, pad_x, pad_y = detector.letterbox(image, 128)
    assert tensor.shape == (1, 128, 128, 3) and scale == 0.64 and pad_x == 0 and pad_y == 32
    assert tensor[0, 0, 0, 0] == -1.0 and tensor[0, 64, 64, 0] == 1.0


def test_the_quick_letterbox_maps_pixels_like_the_one_step_resize():
    # a bright square in a large odd-sized image lands on the same input pixels either way
    image = np.zeros((1201, 1799, 3), np.uint8)
    image[400:700, 900:1200] = 255
    plain = detector.letterbox(image, 192)
    halved = detector.letterbox(image, 192, quick=True)
    assert np.abs(np.subtract(halved[2:], plain[2:])).max() <= 1 and abs(halved[1] / plain[1] - 1) < 0.005
    for tensor, scale, pad_x, pad_y in (plain, halved):
        bright = np.argwhere(tensor[0, :, :, 0] > 0.9)
        np.testing.assert_allclose(bright.min(0), [400 * scale + pad_y, 900 * scale + pad_x], atol=1)
        np.testing.assert_allclose(bright.max(0), [700 * scale + pad_y - 1, 1200 * scale + pad_x - 1], atol=1)
    assert detector.halve_to(image, 192)[0].shape == (150, 224, 3)  # 3 halvings: 1799 → 899 → 449 → 224
    assert detector.halve_to(image[:300, :383], 192)[1] == 0  # no halving below twice the size
    assert detector.halve_to(image, 2 * 192)[1] == 2  # the letterbox's: 1799 → 899 → 449, then bilinear to 384 and one halving


def test_the_score_sigmoid_never_overflows():
    logits = np.array([-100.0, -90.0, 0.0, 90.0, 100.0], np.float32)
    with np.errstate(all="raise"):
        scores = detector.sigmoid(logits)
    np.testing.assert_allclose(scores, [0, 0, 0.5, 1, 1], atol=1e-6)
    assert scores.dtype == np.float32


def test_turning_a_detection_back_undoes_each_rotation():
    import cv2

    width, height = 40, 30
    point = np.array([[7.0, 5.0]])
    for rotation, turned in (
        (cv2.ROTATE_90_CLOCKWISE, [[height - 5.0, 7.0]]),
        (cv2.ROTATE_90_COUNTERCLOCKWISE, [[5.0, width - 7.0]]),
        (cv2.ROTATE_180, [[width - 7.0, height - 5.0]]),
    ):
        d = detector.Detection(np.array([*turned[0], turned[0][0] + 4, turned[0][1] + 2], np.float32),
                               np.repeat(np.array(turned, np.float32), 6, axis=0), 0.9)
        back = detector._turn_back(d, rotation, width, height)
        np.testing.assert_allclose(back.keypoints[0], point[0], atol=1e-5)
        # the box is still x0 < x1, y0 < y1, with its corner at the point
        assert back.box[0] < back.box[2] and back.box[1] < back.box[3]
        assert np.isclose(np.abs(back.box.reshape(2, 2) - point).min(axis=0), 0).all()


def test_weighted_nms_ends_on_degenerate_boxes():
    # a zero-area box overlaps nothing, not even itself; it must still leave the loop
    boxes = np.array([[5, 5, 5, 5], [0, 0, 10, 10]], np.float32)
    kept = detector.weighted_nms(boxes, np.zeros((2, 6, 2), np.float32), np.array([0.9, 0.8], np.float32))
    assert len(kept) == 2


class _Model:
    """Records the thresholds it is asked at; finds a face only at or below `finds_at`."""

    def __init__(self, finds_at: float | None, min_score: float = 0.5):
        self.min_score, self.finds_at, self.asked = min_score, finds_at, []

    def detect(self, image, min_score=None, *, quick=False):
        min_score = self.min_score if min_score is None else min_score
        self.asked.append(round(min_score, 3))
        if self.finds_at is None or min_score > self.finds_at:
            return []
        h, w = image.shape[:2]
        return [detector.Detection(np.array([w * 0.3, h * 0.3, w * 0.7, h * 0.7], np.float32),
                                   np.zeros((6, 2), np.float32), self.finds_at)]


def test_the_retries_run_on_the_retry_model_with_the_grey_allowance():
    grey = np.full((200, 300, 3), 90, np.uint8)
    primary, retry = _Model(finds_at=None), _Model(finds_at=0.47)
    found = detector.FaceDetector(primary, None, retry).detect(grey)
    assert len(found) == 1 and found[0].score == 0.47
    assert primary.asked == [0.5]  # one quick pass of the primary model, then the retry model's
    assert retry.asked == [round(0.5 - detector.GREY_SCORE_ALLOWANCE, 3)]


def test_a_colour_photo_gets_no_grey_allowance_and_the_retry_model_tries_the_turns():
    colour = np.zeros((200, 300, 3), np.uint8)
    colour[..., 2] = 200
    primary, retry = _Model(finds_at=None), _Model(finds_at=None)
    assert detector.FaceDetector(primary, None, retry).detect(colour) == []
    assert primary.asked == [0.5] and retry.asked == [0.5] * len(detector.ROTATIONS)
