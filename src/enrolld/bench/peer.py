"""The peer we measure against: the `face_recognition` library (dlib HOG detector, 5-point
landmarks, the same ResNet), as people run it on a Pi today. Only for eval and bench; it
needs the `bench` extra."""

from __future__ import annotations

import io

import numpy as np

from ..errors import EnrolldError

SAME_PERSON_DISTANCE = 0.6  # face_recognition's documented tolerance


class FaceRecognitionPeer:
    name = "face_recognition"

    def __init__(self):
        try:
            import face_recognition
        except ImportError as e:
            raise EnrolldError(f"the peer needs the bench extra: pip install -e '.[bench]' ({e})") from None
        self.fr = face_recognition

    def encode(self, data: bytes) -> np.ndarray | None:
        """Bytes → the largest face's descriptor, the library's usual way (decode included)."""
        image = self.fr.load_image_file(io.BytesIO(data))
        boxes = self.fr.face_locations(image)
        if not boxes:
            return None
        largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        return self.fr.face_encodings(image, [largest])[0]

    @staticmethod
    def same(a: np.ndarray, b: np.ndarray) -> bool:
        return float(np.linalg.norm(a - b)) <= SAME_PERSON_DISTANCE
