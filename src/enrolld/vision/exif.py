"""The EXIF orientation tag of a JPEG, read from its APP1 segment without decoding pixels.

The decoder applies the tag (an upright photo tagged "rotate 90°" is turned on its side), so
when no face is found in a photo whose tag asks for a turn, the refusal says so: the usual
cause is a camera or editor that rotated the pixels and left the tag behind.
"""

from __future__ import annotations

import struct

ORIENTATION_TAG = 0x0112
TURNS = {3: "rotate 180°", 6: "rotate 90° clockwise", 8: "rotate 90° counter-clockwise",
         2: "mirror", 4: "mirror vertically", 5: "mirror and rotate 90°", 7: "mirror and rotate 270°"}


def orientation(data: bytes) -> int:
    """The orientation tag (1-8), or 1 when the image has none or is not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return 1
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker == 0xE1 and data[pos + 4:pos + 10] == b"Exif\0\0":
            return _from_tiff(data[pos + 10:pos + 2 + length])
        if marker in (0xDA, 0xD9) or length < 2:  # image data or end: no EXIF before it
            return 1
        pos += 2 + length
    return 1


def _from_tiff(tiff: bytes) -> int:
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    endian = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(endian + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return 1
    count = struct.unpack(endian + "H", tiff[ifd:ifd + 2])[0]
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(tiff):
            break
        tag, kind = struct.unpack(endian + "HH", tiff[entry:entry + 4])
        if tag == ORIENTATION_TAG and kind == 3:  # SHORT
            value = struct.unpack(endian + "H", tiff[entry + 8:entry + 10])[0]
            return value if 1 <= value <= 8 else 1
    return 1


def no_face_note(data: bytes) -> str:
    """'' or a sentence naming the EXIF turn that was applied before looking for faces."""
    turn = TURNS.get(orientation(data))
    if turn is None:
        return ""
    return (f"; the photo's EXIF orientation tag says {turn!r} and it was applied before looking: if the photo "
            "was already upright, remove the tag (or re-save the image without it)")
