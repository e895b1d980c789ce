"""Refusal reasons (machine codes from the quality gate, the decoder and the burst) in words
for the person at the enrollment station."""

from __future__ import annotations

WORDS = {
    "no_face": "no face found",
    "too_small": "face too small (come closer or use a larger photo)",
    "blurry": "blurry",
    "turned_sideways": "head turned sideways (look at the camera)",
    "tilted_up_or_down": "head tilted up or down",
    "low_confidence": "not clearly a face",
    "partly_outside_image": "face partly outside the picture",
    "no_frames": "the camera gave no picture",
    "unreadable_frame": "the camera's picture could not be read",
    "not_an_image": "not an image file",
    "unsupported_format": "not an image format the appliance reads",
    "too_large": "image too large",
    "truncated": "damaged or incomplete image file",
    "empty": "empty file",
    "quality": "the face did not pass the quality check",
}


def reason_in_words(reason: str) -> str:
    return WORDS.get(reason, reason.replace("_", " "))


def reasons_in_words(reasons) -> str:
    return "; ".join(reason_in_words(r) for r in reasons) or "refused"
