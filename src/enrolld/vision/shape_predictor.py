"""dlib's 5-point face landmarks (eye corners, base of the nose), run ourselves in numpy.

The dlib ResNet was trained on chips cut from these five points, so chips cut from them land
where the network expects the face. The model is dlib's public-domain
`shape_predictor_5_face_landmarks.dat` (pinned by sha256, see models.py), an ensemble of
regression trees (Kazemi & Sullivan 2014): 15 cascade levels of 500 depth-4 trees. Each level
reads 800 pixel intensities at points placed relative to the current shape, and every tree
compares two of them to pick a leaf; the leaves' shape increments add up.

The file's layout, as dlib serialises a shape_predictor (dlib/image_processing/shape_predictor.h
describes the fields; the primitives are dlib_dat.DatReader's): version 1; the initial shape (a
column matrix, written as −rows, −cols then the floats); the forests (a count of levels, then per
level a count of trees, then per tree its splits — idx1, idx2, threshold — and its leaf
matrices); per level the anchor landmark of each feature pixel; per level each pixel's offset
from its anchor (x, y). Shapes are in a box-normalised frame: (0, 0) is the detection
rectangle's top-left pixel and (1, 1) its bottom-right pixel.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..convert.dlib_dat import DatFormatError

_EXPONENT_INF = 32000  # dlib's float_details reserves 32000..32002 for inf, -inf, nan


@dataclass(frozen=True)
class ShapePredictor:
    initial_shape: np.ndarray  # (P, 2) normalised
    split_first: np.ndarray  # (L, T*S) feature index, flat per level
    split_second: np.ndarray  # (L, T*S)
    split_threshold: np.ndarray  # (L, T*S) float32
    leaf_values: np.ndarray  # (L, T*(S+1), P*2) float32
    anchors: np.ndarray  # (L, F) landmark index of each feature pixel
    deltas: np.ndarray  # (L, F, 2) offset from the anchor in the initial shape's frame
    trees: int
    depth: int

    @property
    def points(self) -> int:
        return len(self.initial_shape)

    @functools.cached_property
    def _levels(self):
        """Per level, the arrays of the hot loop laid out for as few numpy calls as possible
        (each call costs about a microsecond, as much as its arithmetic here):
        - a (features × (2 + P)) matrix whose rows are a pixel's offset from its anchor and a
          one-hot column for the anchor, so one product with [similarity-and-to-image; anchor
          positions] places every feature pixel;
        - split thresholds floored to int16: the intensities are integers, and for an integer
          difference d, d <= t exactly when d <= floor(t);
        - the leaf values."""
        levels = []
        for i in range(len(self.anchors)):
            features = len(self.anchors[i])
            placement = np.zeros((features, 2 + self.points))
            placement[:, :2] = self.deltas[i]
            placement[np.arange(features), 2 + self.anchors[i]] = 1.0
            thresholds = np.clip(np.floor(self.split_threshold[i]), -32768, 32767).astype(np.int16)
            levels.append((placement, self.split_first[i], self.split_second[i], thresholds, self.leaf_values[i]))
        return levels

    @functools.cached_property
    def _similarity_coefficients(self) -> np.ndarray:
        """(2P, 2) C such that shape.reshape(-1) @ C is (a, b) of the least-squares similarity
        from the initial shape to `shape` (rotation·scale [[a, −b], [b, a]]): with the source
        centred, a = Σ(x u + y v) / Σ(x² + y²) and b = Σ(x v − y u) / Σ(x² + y²)."""
        centred = self.initial_shape.astype(np.float64) - self.initial_shape.astype(np.float64).mean(0)
        x, y = centred[:, 0], centred[:, 1]
        coefficients = np.zeros((self.initial_shape.size, 2))
        coefficients[0::2, 0], coefficients[1::2, 0] = x, y
        coefficients[0::2, 1], coefficients[1::2, 1] = -y, x
        return coefficients / float((centred * centred).sum())

    @functools.cached_property
    def _leaf_base(self) -> np.ndarray:
        """Each tree's first row in a level's leaf values."""
        return np.arange(self.trees) * 2**self.depth

    @functools.cached_property
    def _decision_weights(self) -> np.ndarray:
        """Bit n for split n: a tree's decisions @ these packs them into an int (exact in
        float32: the sums stay below 2**15)."""
        return (1 << np.arange(2**self.depth - 1)).astype(np.float32)

    @functools.cached_property
    def _leaf_of_decisions(self) -> np.ndarray:
        """Leaf index (0..2**depth−1) for every pattern of a tree's split decisions, the
        decisions packed into an int (bit n set: node n sends the sample right)."""
        splits = 2**self.depth - 1
        patterns = np.arange(2**splits)
        node = np.zeros_like(patterns)
        for _ in range(self.depth):
            node = 2 * node + 1 + ((patterns >> node) & 1)
        # as small as the leaves allow: the cascade looks up 500 random entries per level,
        # and a table that stays in the cache saves a few percent of the whole run
        return (node - splits).astype(np.uint8 if self.depth <= 8 else np.int64)

    def predict(self, image: np.ndarray, to_image: np.ndarray) -> np.ndarray:
        """The landmarks (P, 2) in image pixels. `to_image` is the 2×3 affine map from the
        normalised frame to image pixels (box_frame() gives dlib's, for a rectangle). Pixel
        intensities are read from `image` (grey, or BGR/RGB whose channels are averaged the
        way dlib averages them) only where the trees look."""
        height, width = image.shape[:2]
        channels = 1 if image.ndim == 2 else image.shape[2]
        pixels = np.ascontiguousarray(image).reshape(-1)
        channel_views = [pixels[channel:] for channel in range(channels)]
        limits = np.array([width, height], np.uint64)
        # the same limits for every point, laid flat: a comparison without broadcasting over
        # a short axis is three times quicker (the test below runs once per level)
        flat_limits = np.tile(limits, len(self._levels[0][0]))
        strides = np.array([channels, width * channels], np.int64)
        linear, offset = to_image[:, :2].astype(np.float64), to_image[:, 2].astype(np.float64)
        to_image_t = linear.T
        leaf_of, similarity = self._leaf_of_decisions, self._similarity_coefficients
        leaf_base, weights = self._leaf_base, self._decision_weights
        # the current shape (flat, float32) lives in the first row of the sum below
        steps = np.empty((self.trees + 1, self.initial_shape.size), np.float32)
        current = steps[0]
        current[:] = self.initial_shape.reshape(-1)
        place = np.empty((2 + self.points, 2))
        centre_offset = offset + 0.5
        for placement, first, second, thresholds, leaf_values in self._levels:
            # dlib places the feature pixels with the similarity from the initial to the
            # current shape (rotation and scale only, kept in float32), around each pixel's
            # anchor landmark, and then maps them into the image; both maps are folded into
            # one (the same points up to rounding in the last bits)
            a, b = (current @ similarity).astype(np.float32).tolist()
            place[:2] = np.array([[a, b], [-b, a]]) @ to_image_t
            np.add(current.reshape(-1, 2) @ to_image_t, centre_offset, out=place[2:])
            xy = np.floor(placement @ place).astype(np.int64)
            index = xy @ strides
            # dlib reads 0 outside the image; negative coordinates wrap to huge unsigned ones.
            # Faces lie inside the image nearly always: one test for all points, and the
            # per-point mask (a reduction along the short axis, slow) only when one is out.
            if (xy.view(np.uint64).reshape(-1) >= flat_limits).any():
                outside = (xy.view(np.uint64) >= limits).any(1)
                index[outside] = 0
                grey = _grey_at(channel_views, index)
                grey[outside] = 0
            else:
                grey = _grey_at(channel_views, index)
            # every split of every tree at once, then each tree's leaf from its decisions
            goes_right = (grey.take(first) - grey.take(second) <= thresholds).reshape(self.trees, -1)
            leaves = leaf_base + leaf_of.take((goes_right.astype(np.float32) @ weights).astype(np.int64))
            # one tree after the other in float32, as dlib adds them: numpy reduces over the
            # rows of a C-ordered array row by row, in order (a pairwise sum would round
            # differently, enough to move a point across a pixel boundary now and then)
            np.take(leaf_values, leaves, axis=0, out=steps[1:])
            current[:] = np.add.reduce(steps, axis=0, dtype=np.float32)
        return current.reshape(-1, 2).astype(np.float64) @ linear.T + offset


def _grey_at(channels: list[np.ndarray], index: np.ndarray) -> np.ndarray:
    """dlib's grey level (int16) of the pixels starting at `index` in the flat image, given as
    one view per channel (the flat image shifted by the channel): for colour, the integer mean
    of the channels (dlib's rgb → grey), computed only there. One take per channel is quicker
    than gathering pixel rows, and int16 holds a sum of three bytes."""
    total = channels[0].take(index).astype(np.int16)
    for channel in channels[1:]:
        total += channel.take(index)
    return total // len(channels) if len(channels) > 1 else total


def box_frame(left: float, top: float, right: float, bottom: float) -> np.ndarray:
    """dlib's map from the normalised frame to a detection rectangle: (0,0) → top-left,
    (1,0) → top-right, (1,1) → bottom-right; dlib's rectangles include their right and bottom
    pixel rows, so `right` and `bottom` are pixel indices, not one past."""
    return np.array([[right - left, 0.0, left], [0.0, bottom - top, top]], np.float64)


# BlazeFace's box → the square the predictor starts from. dlib trained the predictor on its
# HOG detector's boxes, which sit a little inside BlazeFace's: over 687 faces (faces/,
# faces_natural/, skimage's astronaut and camera man, each also mirrored) the HOG box side
# was 0.93 of BlazeFace's (median; 10–90 % 0.83–1.06) with the centres within 1 % of the
# box side. The cascade forgives the rest: from these squares our landmarks land a median
# 0.55 chip px from dlib's own (from its HOG boxes).
BOX_SCALE = 0.93


def face_frame(box: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """The normalised frame for a BlazeFace detection: a square of BOX_SCALE × the box side
    around the box centre, turned with the line through the eyes (keypoints 0 and 1) so a
    head tilted in the picture starts from a tilted mean shape (upright faces, dlib's only
    kind, are unaffected)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = BOX_SCALE * (x1 - x0)
    (left_x, left_y), (right_x, right_y) = np.asarray(keypoints[:2], np.float64).tolist()
    angle = math.atan2(right_y - left_y, right_x - left_x)
    c, s = side * math.cos(angle), side * math.sin(angle)
    # the unit square's centre (0.5, 0.5) lands on the box centre
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[c, -s, centre_x - 0.5 * (c - s)], [s, c, centre_y - 0.5 * (s + c)]])


# --------------------------------------------------------------------------- reading the .dat


class _IntStream:
    """dlib integers (control byte with the byte count in its low nibble, 0x80 = negative,
    then little-endian magnitude) read in a tight loop: the file holds about three million
    of them, too many for a general-purpose cursor to read quickly."""

    def __init__(self, data: bytes):
        self.data = data
        self.offset = 0

    def ints(self, count: int) -> list[int]:
        data, offset, out = self.data, self.offset, []
        append = out.append
        try:
            for _ in range(count):
                control = data[offset]
                size = control & 0x0F
                if control & 0x70 or not 0 < size <= 8:
                    raise DatFormatError(f"bad integer control byte 0x{control:02x} at offset {offset}")
                value = int.from_bytes(data[offset + 1 : offset + 1 + size], "little")
                if offset + 1 + size > len(data):
                    raise IndexError
                append(-value if control & 0x80 else value)
                offset += 1 + size
        except IndexError:
            raise DatFormatError(f"truncated at offset {offset}") from None
        self.offset = offset
        return out

    def int(self) -> int:
        return self.ints(1)[0]

    def floats(self, count: int) -> np.ndarray:
        """dlib scalar floats: mantissa and exponent integers, value = m·2**e."""
        pairs = self.ints(2 * count)
        mantissas, exponents = pairs[0::2], pairs[1::2]
        if any(e >= _EXPONENT_INF for e in exponents):
            raise DatFormatError("infinite or NaN value in a shape predictor")
        return np.array([math.ldexp(m, e) for m, e in zip(mantissas, exponents)], np.float32)

    def column(self, rows: int) -> np.ndarray:
        """A float column matrix (dlib writes −rows, −cols, then the values)."""
        got_rows, got_cols = -self.int(), -self.int()
        if got_rows != rows or got_cols != 1:
            raise DatFormatError(f"expected a {rows}×1 matrix, found {got_rows}×{got_cols} at offset {self.offset}")
        return self.floats(rows)


def parse_shape_predictor(data: bytes) -> ShapePredictor:
    stream = _IntStream(data)
    version = stream.int()
    if version != 1:
        raise DatFormatError(f"shape predictor version {version}, expected 1")
    rows, cols = -stream.int(), -stream.int()
    if cols != 1 or rows <= 0 or rows % 2:
        raise DatFormatError(f"initial shape is {rows}×{cols}, expected an even column")
    initial = stream.floats(rows)
    levels = stream.int()
    firsts, seconds, thresholds, leaves = [], [], [], []
    trees = splits = None
    for _ in range(levels):
        level_trees = stream.int()
        for _ in range(level_trees):
            count = stream.int()
            values = stream.ints(4 * count)  # idx1, idx2, then the threshold's mantissa, exponent
            firsts.append(values[0::4])
            seconds.append(values[1::4])
            thresholds.append([math.ldexp(m, e) for m, e in zip(values[2::4], values[3::4])])
            leaf_count = stream.int()
            if leaf_count != count + 1:
                raise DatFormatError(f"a tree with {count} splits has {leaf_count} leaves")
            leaves.append(np.stack([stream.column(rows) for _ in range(leaf_count)]))
        if trees is None:
            trees, splits = level_trees, count
        if level_trees != trees or count != splits:
            raise DatFormatError("the cascade's trees differ in size; only uniform forests are supported")
    anchor_levels = stream.int()
    anchors = [stream.ints(stream.int()) for _ in range(anchor_levels)]
    delta_levels = stream.int()
    deltas = [stream.floats(2 * stream.int()).reshape(-1, 2) for _ in range(delta_levels)]
    if stream.offset != len(data):
        raise DatFormatError(f"{len(data) - stream.offset} unexpected trailing bytes")
    if not (anchor_levels == delta_levels == levels):
        raise DatFormatError("the cascade's levels, anchors and deltas disagree in number")
    depth = int(round(math.log2(splits + 1)))
    if 2**depth != splits + 1:
        raise DatFormatError(f"trees with {splits} splits are not complete binary trees")
    points = rows // 2
    return ShapePredictor(
        initial_shape=initial.reshape(points, 2),
        split_first=np.array(firsts, np.int64).reshape(levels, -1),
        split_second=np.array(seconds, np.int64).reshape(levels, -1),
        split_threshold=np.array(thresholds, np.float32).reshape(levels, -1),
        leaf_values=np.stack(leaves).reshape(levels, trees * (splits + 1), rows),
        anchors=np.array(anchors, np.int64),
        deltas=np.stack(deltas).astype(np.float32),
        trees=trees,
        depth=depth,
    )


_ARRAYS = ("initial_shape", "split_first", "split_second", "split_threshold", "leaf_values", "anchors", "deltas")


def save_cache(predictor: ShapePredictor, path: Path, source_sha256: str) -> None:
    """The parsed arrays as an .npz, so a process starts in milliseconds instead of re-reading
    three million dlib integers; it names the sha256 of the .dat it was made from."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        np.savez(out, source_sha256=np.array(source_sha256), trees=predictor.trees, depth=predictor.depth,
                 **{name: getattr(predictor, name) for name in _ARRAYS})
    partial.replace(path)


def cache_path(dat_path: Path) -> Path:
    return dat_path.with_suffix(".npz")


def cache_is_current(path: Path, source_sha256: str) -> bool:
    if not path.is_file():
        return False
    with np.load(path) as arrays:
        return str(arrays["source_sha256"]) == source_sha256


@functools.lru_cache(maxsize=2)
def load_shape_predictor(path: str | Path, source_sha256: str = "") -> ShapePredictor:
    """The predictor in a (verified) .dat: from its .npz cache beside it when that was made
    from a file with `source_sha256`, else parsed (about two seconds). Shared per process:
    it is read-only."""
    path = Path(path)
    cached = cache_path(path)
    if source_sha256 and cache_is_current(cached, source_sha256):
        with np.load(cached) as arrays:
            return ShapePredictor(trees=int(arrays["trees"]), depth=int(arrays["depth"]),
                                  **{name: arrays[name] for name in _ARRAYS})
    return parse_shape_predictor(path.read_bytes())
