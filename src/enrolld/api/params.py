"""One parsing layer for every route: typed request parameters from JSON (typed values) or
forms and query strings (text), JSON bodies with a bounded nesting depth, and 64-bit ids,
each mistake raised as the dialect's own error. A wrong value is always the caller's mistake
(4xx), never a 500: ids are ASCII digits only (not "²", not "--5"), within int64, and JSON
deeper than MAX_JSON_DEPTH is refused.
"""

from __future__ import annotations

import json
import math
import re
from typing import Callable

INT64 = (-(2**63), 2**63 - 1)
MAX_JSON_DEPTH = 32  # the deepest FRS document (sort: [{field: order}]) needs 3
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,19}")  # [0-9], not \d: no other script's digits
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class JsonError(ValueError):
    """The text is not JSON, or is nested deeper than allowed."""


def json_depth(value) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(data, *, max_depth: int = MAX_JSON_DEPTH):
    """JSON from text or bytes, refusing what is not JSON or nests deeper than max_depth.
    The C parser itself stops at the interpreter's recursion limit (RecursionError, caught);
    below it, the parsed value's depth is measured without recursion. No scan of the text:
    a 12 MB base64 body costs one json.loads."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonError("the body is not UTF-8") from None
    if not isinstance(data, str):
        raise JsonError("expected JSON text")
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError:
        raise JsonError("not valid JSON") from None
    if json_depth(value) > max_depth:
        raise JsonError(f"JSON nested deeper than {max_depth} levels")
    return value


def int64_or_none(value, *, from_text: bool = True) -> int | None:
    """An int64 from an int (or, with from_text, its ASCII decimal text); None otherwise."""
    if from_text and isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not INT64[0] <= value <= INT64[1]:
        return None
    return value


def request_json(request) -> dict:
    """A request's body as a JSON object (depth-checked); JsonError otherwise."""
    value = parse_json(request.get_data(cache=True))
    if not isinstance(value, dict):
        raise JsonError("the request body must be a JSON object")
    return value


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
        low = INT64[0] if low is None else low
        high = INT64[1] if high is None else high
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.wrong(name, f"{name} must be between {low} and {high}")
        return value

    def number(self, name: str, *, default=None, low: float = -math.inf, high: float = math.inf) -> float | None:
        value = self.raw(name)
        if value is None:
            return default
        if self.from_text and isinstance(value, str):
            try:
                value = float(value) if len(value) <= 64 else math.nan
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
                value = parse_json(value)
            except JsonError as e:
                raise self.wrong(name, f"{name} must be JSON: {e}") from None
        if not isinstance(value, kind):
            raise self.wrong(name, f"{name} must be a JSON {'object' if kind is dict else 'array'}")
        return value
