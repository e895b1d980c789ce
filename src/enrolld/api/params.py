"""Typed request parameters, from JSON (typed values) or forms (text), with each dialect's
errors. A wrong type is always the caller's mistake (4xx), never a 500."""

from __future__ import annotations

import json
import math
import re
from typing import Callable

_INT_TEXT = re.compile(r"[+-]?\d{1,19}")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class Params:
    def __init__(self, values, *, from_text: bool, missing: Callable[[str], Exception], wrong: Callable[[str, str], Exception]):
        self.values = values
        self.from_text = from_text
        self.missing = missing
        self.wrong = wrong

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") if self.from_text else self.values.get(name) is not None

    def raw(self, name: str, *, required: bool = False):
        if name not in self:
            if required:
                raise self.missing(name)
            return None
        return self.values.get(name)

    def string(self, name: str, *, required: bool = False, max_len: int = 10_000) -> str | None:
        value = self.raw(name, required=required)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > max_len:
            raise self.wrong(name, f"{name} must be a string of at most {max_len} characters")
        return value

    def integer(self, name: str, *, default=None, low: int | None = None, high: int | None = None, required=False) -> int | None:
        value = self.raw(name, required=required)
        if value is None:
            return default
        if self.from_text and isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong(name, f"{name} must be an integer")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.wrong(name, f"{name} must be between {low} and {high}")
        return value

    def number(self, name: str, *, default=None, low: float = -math.inf, high: float = math.inf) -> float | None:
        value = self.raw(name)
        if value is None:
            return default
        if self.from_text and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.wrong(name, f"{name} must be a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.wrong(name, f"{name} must be a number")
        if not low <= value <= high:
            raise self.wrong(name, f"{name} must be between {low:g} and {high:g}")
        return float(value)

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if self.from_text and isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        if not isinstance(value, bool):
            raise self.wrong(name, f"{name} must be true or false")
        return value

    def structured(self, name: str, kind: type):
        """An object or list; in a form it arrives as JSON text."""
        value = self.raw(name)
        if value is None:
            return None
        if self.from_text and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise self.wrong(name, f"{name} must be JSON") from None
        if not isinstance(value, kind):
            raise self.wrong(name, f"{name} must be a JSON {'object' if kind is dict else 'array'}")
        return value
