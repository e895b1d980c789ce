import struct
import zlib

import cv2
import numpy as np
import pytest

from enrolld.errors import ImageError
from enrolld.vision import decode
from sample_images import astronaut_bgr, astronaut_jpeg, encode


def reason(data, **kwargs):
    with pytest.raises(ImageError) as caught:
        decode.decode(data, **kwargs)
    return caught.value.reason


def test_each_format_decodes_to_bgr_with_its_size():
    image = astronaut_bgr()
    for ext, fmt in ((".jpg", "jpeg"), (".png", "png"), (".bmp", "bmp"), (".webp", "webp")):
        decoded = decode.decode(encode(image, ext))
        assert decoded.format == fmt
        assert decoded.image.shape == (512, 512, 3) and decoded.image.dtype == np.uint8
        assert (decoded.width, decoded.height) == (512, 512)


def test_empty_and_garbage_are_refused_with_reasons():
    assert reason(b"") == "empty"
    assert reason(b"hello, I am not a picture") == "not_an_image"
    assert reason(b"GIF89a" + b"\0" * 100) == "unsupported_format"


def test_truncated_images_are_refused():
    jpeg = astronaut_jpeg()
    assert reason(jpeg[: len(jpeg) // 2]) == "truncated"
    png = encode(astronaut_bgr(), ".png")
    assert reason(png[:200]) == "truncated"
    assert reason(png[:20]) == "truncated"  # not even a whole header


def test_bomb_header_is_refused_before_decoding():
    # A PNG that claims 100000×100000 pixels but carries no pixel data at all.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    assert reason(png) == "too_large"


def test_huge_dimensions_over_the_side_limit_are_refused():
    image = np.zeros((10, 3000, 3), np.uint8)
    assert reason(encode(image, ".png"), max_side=2000) == "too_large"
    assert reason(encode(image, ".png"), max_pixels=20_000) == "too_large"


def test_too_small_and_format_allow_list():
    assert reason(encode(np.zeros((50, 60, 3), np.uint8), ".png"), min_side=128) == "too_small"
    assert reason(encode(astronaut_bgr(), ".bmp"), formats=("jpeg", "png")) == "unsupported_format"


def test_sixteen_bit_grey_and_alpha_become_8_bit_bgr():
    grey16 = (cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    decoded = decode.decode(encode(grey16, ".png"))
    assert decoded.image.dtype == np.uint8 and decoded.image.shape == (512, 512, 3)
    bgra = cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2BGRA)
    assert decode.decode(encode(bgra, ".png")).image.shape == (512, 512, 3)
    colour16 = astronaut_bgr().astype(np.uint16) * 257
    assert decode.decode(encode(colour16, ".png")).image.dtype == np.uint8


def test_cmyk_jpeg_decodes(tmp_path):
    from PIL import Image

    rgb = Image.fromarray(cv2.cvtColor(astronaut_bgr(), cv2.COLOR_BGR2RGB))
    path = tmp_path / "cmyk.jpg"
    rgb.convert("CMYK").save(path, "JPEG")
    decoded = decode.decode(path.read_bytes())
    assert decoded.image.shape == (512, 512, 3)
    # colours survive the round trip (Adobe-inverted CMYK would come out as a negative)
    assert np.abs(decoded.image.astype(int) - astronaut_bgr().astype(int)).mean() < 20


def test_exif_orientation_is_honoured(tmp_path):
    from PIL import Image

    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, :50] = 255  # a white band on the left
    image = Image.fromarray(wide)
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: display rotated 90° clockwise
    path = tmp_path / "rotated.jpg"
    image.save(path, "JPEG", exif=exif.tobytes())
    decoded = decode.decode(path.read_bytes())
    assert decoded.image.shape[:2] == (300, 100)
    assert (decoded.width, decoded.height) == (100, 300)
    assert decoded.image[:50].mean() > 200  # the band is now at the top


def test_large_jpeg_decodes_at_reduced_scale_keeping_enough_pixels():
    big = cv2.resize(astronaut_bgr(), (2048, 2048))
    decoded = decode.decode(encode(big), keep_side=400)
    assert decoded.scale == 0.25 and decoded.image.shape[:2] == (512, 512)
    assert (decoded.width, decoded.height) == (2048, 2048)
    assert decode.decode(encode(big)).scale == 1.0


def test_header_sizes_match_for_each_format():
    image = np.zeros((37, 91, 3), np.uint8)
    for ext, fmt in ((".jpg", "jpeg"), (".png", "png"), (".bmp", "bmp"), (".webp", "webp")):
        assert decode.header_size(encode(image, ext), fmt) == (91, 37)
