"""Loading a delegate library without tripping over LiteRT's own error path."""

from __future__ import annotations

import ctypes

from ...errors import AcceleratorError
from .. import litert


def load_delegate(library: str, advice: str, *, loader=None):
    """The delegate from `library`, or AcceleratorError saying what to do. The library is
    opened with ctypes first: when it is absent, LiteRT's load_delegate fails noisily in its
    own destructor, and 'not installed' is the common case on a board without the hardware."""
    if loader is None:
        try:
            ctypes.CDLL(library)
        except OSError as e:
            raise AcceleratorError.with_advice(f"cannot load {library} ({e})", advice) from None
        loader = litert.load_delegate
    try:
        return loader(library)
    except (ValueError, OSError, RuntimeError) as e:
        raise AcceleratorError.with_advice(f"cannot load {library} ({e})", advice) from None
