"""FRS filter expressions, external field values, and sort specs, turned into SQL.

Filter syntax (the subset of FRS's Lucene-like syntax we accept):

    field:value             equality; value bare or "double quoted" (\\" and \\\\ escape)
    field:[a TO b]          inclusive range; {a TO b} exclusive; * leaves a side open
    field:[* TO *]          the face has the field (any value)
    NOT x, !x, x AND y, x && y, x OR y, x || y, ( ... )   precedence NOT > AND > OR;
                            Huawei's documented `(!id:o1)` puts `!` right on the field

Fields: external_image_id, face_id, person_id, and the face set's declared external fields.
Every value is bound as a SQL parameter; field names are checked against the schema, so no
caller text reaches the SQL string. A filter is bounded (MAX_FILTER_CHARS, MAX_DEPTH of NOTs
and parentheses, MAX_CONDITIONS) so that neither the parser's recursion nor SQLite's limits
are ever reached by caller text.
"""

from __future__ import annotations

import math
import re

from .errors import InvalidArgumentError, UnknownFieldError, UnsupportedSortError

BUILTIN_FIELDS = {"external_image_id": "string", "face_id": "long", "person_id": "long"}
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
MAX_STRING = 256
MAX_FIELDS = 10  # FRS: at most 10 custom fields
FLOAT_TYPES = ("double", "float")
SORTABLE_TYPES = ("integer", "long", "double", "float")  # FRS sorts on numbers only
_SPACE = re.compile(r"\s")
MAX_FILTER_CHARS = 4096
MAX_DEPTH = 32
MAX_CONDITIONS = 100

_TOKEN = re.compile(
    r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<bang>!(?!=))|(?P<quoted>"(?:[^"\\]|\\.)*")|(?P<range>[\[{][^\]}]*[\]}])'
    r"|(?P<word>[^\s()\"\[\]{}]+))"
)


def column_sql(name: str) -> str:
    if name in BUILTIN_FIELDS:
        return name
    # The name matched facesets.check_field_schema ([A-Za-z0-9_-], no quote), so quoting it
    # in the JSON path is safe; the quotes let a name hold '-'.
    return f"json_extract(external_fields, '$.\"{name}\"')"


def check_value(name: str, kind: str, value, *, from_text: bool = False):
    """A value for a field of type `kind`; with from_text, numbers and booleans may arrive as
    strings (filters, multipart forms). Returns the value to store or compare."""
    if kind == "string":
        # FRS refuses spaces in string values (its filter syntax could not quote them).
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_STRING or _SPACE.search(value):
            raise InvalidArgumentError(
                f"external field {name!r} must be a string of 1-{MAX_STRING} characters without spaces", field=name)
        return value
    if kind == "boolean":
        if from_text and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise InvalidArgumentError(f"external field {name!r} must be true or false", field=name)
        return value
    if from_text and isinstance(value, str):
        try:
            value = float(value) if kind in FLOAT_TYPES else int(value)
        except ValueError:
            raise InvalidArgumentError(f"external field {name!r} must be a {kind}", field=name) from None
    if kind in FLOAT_TYPES:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidArgumentError(f"external field {name!r} must be a finite number", field=name)
        return float(value)
    lo, hi = _INT32 if kind == "integer" else _INT64
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgumentError(f"external field {name!r} must be a {kind} ({lo}..{hi})", field=name)
    return value


def check_fields(values, schema: dict[str, str], *, from_text: bool = False) -> dict:
    """Validate an external_fields object against the face set's declared schema."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InvalidArgumentError("external_fields must be an object", field="external_fields")
    if len(values) > MAX_FIELDS:
        raise InvalidArgumentError(f"at most {MAX_FIELDS} external fields per face", field="external_fields")
    out = {}
    for name, value in values.items():
        if name not in schema:
            raise UnknownFieldError(f"external field {name!r} is not declared by the face set", field=name)
        out[name] = check_value(name, schema[name], value, from_text=from_text)
    return out


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InvalidArgumentError(f"filter: cannot read {text[pos:pos + 20]!r}", field="filter")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, schema: dict[str, str]):
        self.tokens = _tokens(text)
        self.pos = 0
        self.schema = {**BUILTIN_FIELDS, **schema}
        self.params: list = []
        self.depth = 0
        self.conditions = 0

    def peek(self, *words: str):
        if self.pos >= len(self.tokens):
            return None
        tok = self.tokens[self.pos]
        if words:
            return tok if tok[0] == "word" and tok[1].upper() in words else None
        return tok

    def take(self):
        tok = self.peek()
        if tok is None:
            raise InvalidArgumentError("filter: unexpected end", field="filter")
        self.pos += 1
        return tok

    def parse(self) -> str:
        sql = self.expr()
        if self.peek() is not None:
            raise InvalidArgumentError(f"filter: unexpected {self.peek()[1]!r}", field="filter")
        return sql

    def expr(self) -> str:
        parts = [self.term()]
        while self.peek("OR", "||"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def term(self) -> str:
        parts = [self.factor()]
        while self.peek("AND", "&&"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def nested(self, parse):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidArgumentError(f"filter: nested deeper than {MAX_DEPTH} levels of NOT and ()", field="filter")
        try:
            return parse()
        finally:
            self.depth -= 1

    def factor(self) -> str:
        if self.peek("NOT", "!") or (self.peek() or ("",))[0] == "bang":
            self.take()
            return self.nested(lambda: f"(NOT {self.factor()})")
        kind, text = self.take()
        if kind == "lp":
            inner = self.nested(self.expr)
            if self.take()[0] != "rp":
                raise InvalidArgumentError("filter: missing ')'", field="filter")
            return inner
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidArgumentError(f"filter: more than {MAX_CONDITIONS} conditions", field="filter")
        if kind != "word" or ":" not in text:
            raise InvalidArgumentError(f"filter: expected field:value, got {text!r}", field="filter")
        name, _, value = text.partition(":")
        if name not in self.schema:
            raise UnknownFieldError(f"filter: field {name!r} does not exist", field=name)
        if not value:  # field:"quoted" or field:[range] arrive as a second token
            kind, value = self.take()
            if kind == "quoted":
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            elif kind == "range":
                return self.range(name, value)
            elif kind != "word":
                raise InvalidArgumentError(f"filter: no value for {name!r}", field="filter")
        self.params.append(check_value(name, self.schema[name], value, from_text=True))
        return f"{column_sql(name)} = ?"

    def range(self, name: str, text: str) -> str:
        m = re.fullmatch(r"([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])", text)
        if not m:
            raise InvalidArgumentError(f"filter: bad range {text!r} (use [a TO b])", field="filter")
        low_op = ">=" if m.group(1) == "[" else ">"
        high_op = "<=" if m.group(4) == "]" else "<"
        clauses = []
        for bound, op in ((m.group(2), low_op), (m.group(3), high_op)):
            if bound != "*":
                self.params.append(check_value(name, self.schema[name], bound, from_text=True))
                clauses.append(f"{column_sql(name)} {op} ?")
        # [* TO *] asks for faces that have the field at all, not for every face.
        return "(" + " AND ".join(clauses) + ")" if clauses else f"({column_sql(name)} IS NOT NULL)"


def filter_sql(text: str, schema: dict[str, str]) -> tuple[str, list]:
    """(SQL condition, parameters) for an FRS filter over the faces table."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError("filter must be a non-empty string", field="filter")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidArgumentError(f"filter is longer than {MAX_FILTER_CHARS} characters", field="filter")
    parser = _Parser(text, schema)
    return parser.parse(), parser.params


def check_sort(sort, schema: dict[str, str]) -> list[tuple[str, bool]]:
    """FRS sort: [{"field": "asc"|"desc"}, ...] -> [(field, descending)]."""
    if sort is None:
        return []
    if isinstance(sort, dict):
        sort = [sort]
    if not isinstance(sort, list):
        raise InvalidArgumentError("sort must be a list of {field: asc|desc}", field="sort")
    out = []
    for item in sort:
        if not isinstance(item, dict):
            raise InvalidArgumentError("sort must be a list of {field: asc|desc}", field="sort")
        for name, order in item.items():
            if name not in schema:
                raise UnsupportedSortError(f"cannot sort on {name!r}: not a declared external field", field=name)
            if schema[name] not in SORTABLE_TYPES:
                raise UnsupportedSortError(f"cannot sort on {name!r}: a {schema[name]} field (numbers only)", field=name)
            if not isinstance(order, str) or order.lower() not in ("asc", "desc"):
                raise InvalidArgumentError(f"sort order of {name!r} must be asc or desc", field="sort")
            out.append((name, order.lower() == "desc"))
    return out
