"""Native libraries never write raw lines to stderr: libjpeg's "Corrupt JPEG data" and
TFLite's own INFO line come out through logging, and an error stays one line on stderr."""

import logging
import os
import subprocess
import sys
from pathlib import Path

from sample_images import astronaut_jpeg

from enrolld import native_stderr

SRC = str(Path(__file__).resolve().parents[1] / "src")


def enrolld(*args, cwd):
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "enrolld.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_a_corrupt_jpeg_warning_is_logged_not_printed_raw(tmp_path):
    good = astronaut_jpeg()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good[: len(good) // 2] + bytes(range(50)) + good[len(good) // 2:])
    result = enrolld("analyze", str(corrupt), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 face(s)" in result.stdout
    lines = result.stderr.splitlines()
    assert not [line for line in lines if line.startswith(("Corrupt JPEG", "INFO: ", "WARNING: "))], lines
    assert any(line.startswith("INFO enrolld.native: image decoder: Corrupt JPEG data:") for line in lines), lines


def test_a_missing_image_is_one_line_on_stderr_and_exit_2(tmp_path):
    result = enrolld("analyze", str(tmp_path / "missing.jpg"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"enrolld: cannot read {tmp_path / 'missing.jpg'}: No such file or directory\n"
    assert result.stdout == ""


def test_native_lines_map_to_levels(caplog):
    caplog.set_level(logging.DEBUG, logger="enrolld.native")
    native_stderr.emit("WARNING: something in a delegate\n")
    native_stderr.emit("Premature end of JPEG file")
    native_stderr.emit("   ")
    native_stderr.emit("plain text from a library")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "something in a delegate"),
        (logging.INFO, "image decoder: Premature end of JPEG file"),
        (logging.INFO, "plain text from a library"),
    ]


def test_capture_leaves_a_replaced_stderr_alone():
    # under pytest sys.stderr is pytest's capture, not descriptor 2: nothing is redirected
    assert native_stderr.capture() is False
