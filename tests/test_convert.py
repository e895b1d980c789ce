"""The dlib .dat parser on hand-built bytes and on the real file, and the numpy forward pass
against dlib's own compute_face_descriptor."""

import math
import struct

import numpy as np
import pytest

from enrolld.convert.dlib_dat import (
    RESNET_DAT_SHA256,
    AddPrevLayer,
    ChecksumMismatchError,
    ConvLayer,
    DatFormatError,
    DatReader,
    ReluLayer,
    find_dlib_model,
    parse_dlib_net,
    read_dlib_net,
    read_layer,
    verify_sha256,
)
from enrolld.convert.resnet_numpy import add_zero_filled, face_descriptor, resnet_from_dlib
from enrolld.errors import ModelError


def reader(data: bytes) -> DatReader:
    return DatReader(data)


# Writers for dlib's encodings, to build inputs by hand (the project itself never writes .dat).


def encode_int(value: int) -> bytes:
    magnitude = abs(value).to_bytes(max(1, (abs(value).bit_length() + 7) // 8), "little")
    return bytes([len(magnitude) | (0x80 if value < 0 else 0)]) + magnitude


def encode_string(text: str) -> bytes:
    return encode_int(len(text)) + text.encode("ascii")


def encode_tensor(array: np.ndarray) -> bytes:
    shape = (1,) * (4 - array.ndim) + array.shape
    header = encode_int(2) + b"".join(encode_int(d) for d in shape)
    return header + struct.pack(f"<{array.size}f", *array.ravel().tolist())


def encode_alias(*shape: int) -> bytes:
    return encode_int(1) + b"".join(encode_int(d) for d in shape)


# --------------------------------------------------------------------------- primitives


@pytest.mark.parametrize("raw, value", [
    (b"\x01\x00", 0),
    (b"\x01\x05", 5),
    (b"\x02\x2c\x01", 300),  # little-endian magnitude
    (b"\x81\x05", -5),  # 0x80 = negative
    (b"\x82\x00\x01", -256),
    (b"\x08" + b"\xff" * 7 + b"\x7f", 2**63 - 1),
])
def test_read_int(raw, value):
    r = reader(raw)
    assert r.read_int() == value
    assert r.at_end


@pytest.mark.parametrize("value", [0, 1, 127, 255, 256, -1, -70000, 2**40])
def test_encode_int_round_trips(value):
    assert reader(encode_int(value)).read_int() == value


@pytest.mark.parametrize("raw", [b"\x00", b"\x10\x01", b"\x09" + b"\x00" * 9])
def test_bad_integer_control_byte(raw):
    with pytest.raises(DatFormatError, match="control byte"):
        reader(raw).read_int()


def test_truncated_integer():
    with pytest.raises(DatFormatError, match="truncated"):
        reader(b"\x04\x01\x02").read_int()


def test_read_bool():
    r = reader(b"10")
    assert r.read_bool() is True
    assert r.read_bool() is False
    with pytest.raises(DatFormatError, match="bool"):
        reader(b"\x01").read_bool()


def test_read_string():
    r = reader(b"\x01\x05con_4\x01\x00")
    assert r.read_string() == "con_4"
    assert r.read_string() == ""


@pytest.mark.parametrize("mantissa, exponent, value", [
    (3, -1, 1.5),
    (-5, 2, -20.0),
    (0, 0, 0.0),
    (0xA3D70A, -28, 0xA3D70A / 2**28),  # the 0.04 margin at the start of the real file
])
def test_read_float_is_mantissa_times_power_of_two(mantissa, exponent, value):
    assert reader(encode_int(mantissa) + encode_int(exponent)).read_float() == value


def test_read_float_special_exponents():
    assert reader(b"\x01\x00" + encode_int(32000)).read_float() == math.inf
    assert reader(b"\x01\x00" + encode_int(32001)).read_float() == -math.inf
    assert math.isnan(reader(b"\x01\x00" + encode_int(32002)).read_float())


def test_read_tiny_tensor():
    # version 2, shape 1x2x1x2, then four little-endian float32 in NCHW order
    header = b"\x01\x02" + b"\x01\x01\x01\x02\x01\x01\x01\x02"
    raw = header + struct.pack("<4f", 1, -2, 0.5, 3)
    tensor = reader(raw).read_tensor()
    assert tensor.dtype == np.float32 and tensor.shape == (1, 2, 1, 2)
    assert tensor.ravel().tolist() == [1, -2, 0.5, 3]
    assert encode_tensor(tensor) == raw


def test_tensor_with_wrong_version():
    with pytest.raises(DatFormatError, match="tensor version 1"):
        reader(b"\x01\x01" + b"\x01\x00" * 4).read_tensor()


def test_tensor_shorter_than_its_shape():
    four_floats_declared = encode_int(2) + b"".join(encode_int(d) for d in (1, 1, 2, 2))
    with pytest.raises(DatFormatError, match="truncated"):
        reader(four_floats_declared + b"\x00" * 8).read_tensor()


def test_read_small_layers():
    assert isinstance(read_layer(reader(encode_string("relu_2") + b"0")), ReluLayer)
    assert isinstance(read_layer(reader(encode_string("add_prev_"))), AddPrevLayer)
    with pytest.raises(DatFormatError, match="unsupported layer 'bn_con2'"):
        read_layer(reader(encode_string("bn_con2")))


def test_read_conv_layer_splits_params_into_filters_and_biases():
    filters = np.arange(2 * 1 * 3 * 3, dtype=np.float32).reshape(2, 1, 3, 3)
    biases = np.array([10, 20], np.float32)
    params = np.concatenate([filters.ravel(), biases])[:, None, None, None]
    zero_float = encode_int(0) + encode_int(0)
    raw = (encode_string("con_4") + encode_tensor(params)
           # filters, rows, cols, stride y/x, padding y/x
           + b"".join(encode_int(v) for v in (2, 3, 3, 1, 1, 1, 1))
           + encode_alias(2, 1, 3, 3) + encode_alias(1, 2, 1, 1) + zero_float * 4)
    layer = read_layer(reader(raw))
    assert isinstance(layer, ConvLayer)
    assert np.array_equal(layer.filters, filters) and np.array_equal(layer.biases, biases)
    assert layer.stride == (1, 1) and layer.padding == (1, 1)


def test_add_zero_filled_pads_bottom_right_and_high_channels():
    a = np.ones((1, 1, 2), np.float32)
    b = np.full((2, 2, 1), 5, np.float32)
    out = add_zero_filled(a, b)
    assert out.shape == (2, 2, 2)
    assert out[0, 0].tolist() == [6, 1] and out[1, 1].tolist() == [5, 0]


# --------------------------------------------------------------------------- the real file


@pytest.fixture(scope="module")
def dat_path():
    return find_dlib_model()


@pytest.fixture(scope="module")
def dlib_net(dat_path):
    return read_dlib_net(dat_path)


def test_find_dlib_model(dat_path):
    assert dat_path.name == "dlib_face_recognition_resnet_model_v1.dat" and dat_path.is_file()


def test_verify_sha256_accepts_the_pinned_file(dat_path):
    verify_sha256(dat_path, RESNET_DAT_SHA256)


def test_verify_sha256_mismatch_is_a_clear_error(tmp_path):
    fake = tmp_path / "fake.dat"
    fake.write_bytes(b"not a model")
    with pytest.raises(ChecksumMismatchError, match="expected 5553") as info:
        verify_sha256(fake, RESNET_DAT_SHA256)
    assert isinstance(info.value, ModelError) and isinstance(info.value, ValueError)


def test_real_network_structure(dlib_net):
    assert dlib_net.input.rows == dlib_net.input.cols == 150
    assert dlib_net.input.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)
    assert dlib_net.loss.distance_threshold == pytest.approx(0.6)
    assert sum(isinstance(layer, ConvLayer) for layer in dlib_net.layers) == 29
    assert dlib_net.parameter_count == 5_614_592
    weights = resnet_from_dlib(dlib_net)  # raises if the layers disagree with the C++ wiring
    assert len(weights.blocks) == 14 and weights.fc.shape == (256, 128)


def test_truncated_file_is_a_format_error(dat_path):
    data = dat_path.read_bytes()
    with pytest.raises(DatFormatError):
        parse_dlib_net(data[: len(data) // 2])
    with pytest.raises(DatFormatError, match="trailing"):
        parse_dlib_net(data + b"\x01\x00")


def test_numpy_forward_pass_matches_dlib(dlib_net, dat_path):
    dlib = pytest.importorskip("dlib", reason="dlib-bin is the reference to compare against")
    skimage_data = pytest.importorskip("skimage.data")
    from enrolld.convert.to_tflite import DlibChipCutter

    chip = DlibChipCutter()(skimage_data.astronaut())[0]
    expected = np.array(dlib.face_recognition_model_v1(str(dat_path)).compute_face_descriptor(chip))
    actual = face_descriptor(resnet_from_dlib(dlib_net), chip)
    cosine = actual @ expected / (np.linalg.norm(actual) * np.linalg.norm(expected))
    assert cosine >= 0.9999
    assert np.abs(actual - expected).max() < 1e-4
