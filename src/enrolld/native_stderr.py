"""Native libraries' stderr through logging, never raw.

libjpeg prints "Corrupt JPEG data: 161 extraneous bytes before marker 0xd9" straight to file
descriptor 2 (OpenCV leaves its default message handler in place), and TFLite prints
"INFO: Created TensorFlow Lite XNNPACK delegate for CPU." the same way. Those lines bypassed
our log format and levels and, in `enrolld analyze`, broke the "one line on stderr" rule.

`capture()` points descriptor 2 at a pipe and reads it on a thread that logs each line under
`enrolld.native` (decoder warnings as "image decoder: …", a leading INFO:/WARNING:/ERROR:
mapped to its level); Python's own `sys.stderr`, which logging writes to, keeps the original
stream, and so does faulthandler, so a crash still leaves its traceback in the journal.
"""

from __future__ import annotations

import atexit
import faulthandler
import io
import logging
import os
import re
import sys
import threading

log = logging.getLogger("enrolld.native")

DECODER_WARNING = re.compile(
    r"^(Corrupt JPEG data|Premature end of JPEG file|Invalid SOS parameters|Unsupported marker type"
    r"|Warning: unknown JFIF revision|Bogus |Huffman table|libpng (warning|error)|iCCP: )"
)
_LEVEL_PREFIX = re.compile(r"^(INFO|WARNING|ERROR)\s*:\s*")
_state: dict = {}


def capture() -> bool:
    """Route descriptor 2 through logging for the rest of the process. Does nothing (returns
    False) where sys.stderr is not descriptor 2, e.g. under pytest's capture."""
    if _state:
        return True
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return False
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
    sys.stderr.flush()
    original = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sys.stderr = open(original, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                      errors="backslashreplace", closefd=False)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    pump = threading.Thread(target=_pump, args=(read_fd,), name="native-stderr", daemon=True)
    pump.start()
    _state.update(original=original, pump=pump)
    atexit.register(_release)
    return True


def _pump(read_fd: int) -> None:
    with open(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while True:
            chunk = pipe.read(4096)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                emit(line.decode("utf-8", "replace"))
        if pending:
            emit(pending.decode("utf-8", "replace"))


def emit(line: str) -> None:
    """Log one line a native library wrote to stderr."""
    text = line.rstrip()
    if not text:
        return
    if DECODER_WARNING.match(text):
        log.info("image decoder: %s", text)
        return
    prefix = _LEVEL_PREFIX.match(text)
    level = getattr(logging, prefix.group(1)) if prefix else logging.INFO
    log.log(level, "%s", text[prefix.end():] if prefix else text)


def _release() -> None:
    """At exit: give descriptor 2 back (closing the pipe's last writer) and let the thread
    log what was still in the pipe."""
    original, pump = _state["original"], _state["pump"]
    os.dup2(original, 2)
    pump.join(timeout=2)
