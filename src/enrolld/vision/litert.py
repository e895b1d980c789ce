"""The TFLite interpreter: LiteRT (ai-edge-litert) first, the older tflite-runtime as a
fallback for boards where only that wheel exists."""

from __future__ import annotations

try:
    from ai_edge_litert.interpreter import Interpreter, load_delegate

    RUNTIME = "ai-edge-litert"
except ImportError:  # pragma: no cover - exercised only where LiteRT has no wheel
    try:
        from tflite_runtime.interpreter import Interpreter, load_delegate

        RUNTIME = "tflite-runtime"
    except ImportError:
        Interpreter = load_delegate = None
        RUNTIME = ""

__all__ = ["Interpreter", "load_delegate", "RUNTIME"]
