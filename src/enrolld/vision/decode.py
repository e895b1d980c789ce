"""Image bytes to an upright 8-bit BGR array, refusing what is not a sane photo.

The dimensions are read from the header before anything is decoded, so a decompression bomb
(a small file that claims a gigapixel) is refused without allocating. Large JPEGs are decoded
at 1/2, 1/4 or 1/8 scale by libjpeg itself when the pipeline does not need every pixel.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ImageError

FORMATS = ("jpeg", "png", "bmp", "webp")
# File name endings of those formats, for commands and sources that read image folders.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


@dataclass(frozen=True)
class Decoded:
    image: np.ndarray  # H×W×3 uint8 BGR, EXIF orientation applied
    format: str
    width: int  # of the full-size upright image
    height: int
    scale: float  # image pixels per source pixel (1.0, or 1/2, 1/4, 1/8 for a reduced JPEG)


def sniff(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"GIF8", b"II*\x00", b"MM\x00*") or data[4:12] in (b"ftypheic", b"ftypavif", b"ftypmif1"):
        raise ImageError("unsupported_format", "GIF, TIFF, HEIC and AVIF images are not supported; send JPEG, PNG, BMP or WebP")
    raise ImageError("not_an_image", "the data is not a JPEG, PNG, BMP or WebP image")


def header_size(data: bytes, fmt: str) -> tuple[int, int]:
    """(width, height) as stored, read from the header alone."""
    try:
        size = _HEADER_READERS[fmt](data)
    except (struct.error, IndexError):
        size = None
    if not size:
        raise ImageError("truncated", f"the {fmt.upper()} header is truncated or corrupt")
    return size


def _jpeg_size(data: bytes):
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _png_size(data: bytes):
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _bmp_size(data: bytes):
    header_len = struct.unpack("<I", data[14:18])[0]
    if header_len == 12:
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)


def _webp_size(data: bytes):
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


_HEADER_READERS = {"jpeg": _jpeg_size, "png": _png_size, "bmp": _bmp_size, "webp": _webp_size}

# libjpeg decodes at these fractions for free; IMREAD_REDUCED_* keep EXIF rotation.
_REDUCED = {8: cv2.IMREAD_REDUCED_COLOR_8, 4: cv2.IMREAD_REDUCED_COLOR_4, 2: cv2.IMREAD_REDUCED_COLOR_2}


def reduction(fmt: str, width: int, height: int, keep_side: int, max_factor: int = 8) -> int:
    """The reduction (1, 2, 4 or 8) decode() applies: the largest, at most max_factor, that
    keeps the shorter side at least keep_side pixels; 1 unless a JPEG and keep_side > 0."""
    if fmt != "jpeg" or not keep_side:
        return 1
    return next((f for f in _REDUCED if f <= max_factor and min(width, height) // f >= keep_side), 1)


def check_header(
    data: bytes,
    *,
    max_pixels: int = 50_000_000,
    max_side: int = 20_000,
    min_side: int = 1,
    formats: tuple[str, ...] = FORMATS,
) -> tuple[str, int, int]:
    """(format, width, height) once the bytes pass every check that needs no decoding: not
    empty, an accepted format, a readable header within the size limits, a JPEG that reaches
    its end marker."""
    if not data:
        raise ImageError("empty", "the image is empty")
    fmt = sniff(data)
    if fmt not in formats:
        raise ImageError("unsupported_format", f"{fmt.upper()} is not accepted here; send {', '.join(f.upper() for f in formats)}")
    width, height = header_size(data, fmt)
    if width <= 0 or height <= 0:
        raise ImageError("truncated", "the header gives the image no pixels")
    if width > max_side or height > max_side or width * height > max_pixels:
        raise ImageError("too_large", f"{width}×{height} pixels is over the limit ({max_side} px a side, {max_pixels} pixels)")
    if min(width, height) < min_side:
        raise ImageError("too_small", f"{width}×{height} pixels is under the minimum of {min_side} px a side")
    if fmt == "jpeg" and not _has_jpeg_end(data):
        raise ImageError("truncated", "the JPEG data ends before the image does")
    return fmt, width, height


def decode(
    data: bytes,
    *,
    max_pixels: int = 50_000_000,
    max_side: int = 20_000,
    min_side: int = 1,
    keep_side: int = 0,
    max_factor: int = 8,
    formats: tuple[str, ...] = FORMATS,
) -> Decoded:
    """Decode `data`. keep_side > 0 lets a JPEG be decoded at a reduced scale (1/2, 1/4 or
    1/8, at most 1/max_factor) as long as its shorter side stays at least keep_side pixels."""
    fmt, width, height = check_header(data, max_pixels=max_pixels, max_side=max_side, min_side=min_side, formats=formats)
    factor = reduction(fmt, width, height, keep_side, max_factor)
    flags = _REDUCED.get(factor, cv2.IMREAD_COLOR)
    buffer = np.frombuffer(data, np.uint8)
    image = cv2.imdecode(buffer, flags)  # 16-bit, grey, alpha and CMYK all come out as 8-bit BGR
    if image is None:
        raise ImageError("truncated", f"the {fmt.upper()} data is truncated or corrupt")
    full_w, full_h = width, height
    if (image.shape[1] > image.shape[0]) != (width > height) and width != height:
        full_w, full_h = height, width  # EXIF rotated it by 90°
    return Decoded(image, fmt, full_w, full_h, 1.0 / factor)


def _has_jpeg_end(data: bytes) -> bool:
    # Cameras and editors may append trailers after EOI, so look near the end, not at it.
    return b"\xff\xd9" in data[-4096:]
