"""FRS filter expressions become parameterised SQL; bad ones are named errors."""

import sqlite3

import pytest

from enrolld.store.errors import InvalidArgumentError, UnknownFieldError, UnsupportedSortError
from enrolld.store.filters import check_sort, filter_sql

SCHEMA = {"badge": "long", "team": "string", "n": "integer", "score": "double"}


@pytest.fixture
def conn():
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE faces (face_id INTEGER, person_id INTEGER, external_image_id TEXT, external_fields TEXT)")
    rows = [(i, i % 3, f"img{i}", f'{{"badge": {i}, "team": "{"red" if i % 2 else "blue"}", "score": {i / 10}}}') for i in range(10)]
    c.executemany("INSERT INTO faces VALUES (?, ?, ?, ?)", rows)
    return c


def ids(conn, text):
    where, params = filter_sql(text, SCHEMA)
    return sorted(r[0] for r in conn.execute(f"SELECT face_id FROM faces WHERE {where}", params))


@pytest.mark.parametrize(
    "text, expected",
    [("badge:3", [3]), ("team:red AND badge:[2 TO 6]", [3, 5]), ("team:\"blue\" OR badge:1", [0, 1, 2, 4, 6, 8]),
     ("NOT team:red", [0, 2, 4, 6, 8]), ("badge:{7 TO *}", [8, 9]), ("(badge:1 OR badge:2) AND NOT person_id:1", [2]),
     ("external_image_id:img4", [4]), ("score:[0.25 TO 0.45]", [3, 4]), ("face_id:9", [9])],
)
def test_filters(conn, text, expected):
    assert ids(conn, text) == expected


@pytest.mark.parametrize(
    "text, error",
    [("nope:1", UnknownFieldError), ("badge:x", InvalidArgumentError), ("badge:[1 TO", InvalidArgumentError),
     ("(badge:1", InvalidArgumentError), ("badge:1 OR", InvalidArgumentError), ("", InvalidArgumentError),
     ("badge", InvalidArgumentError), ("team:'; DROP TABLE faces; --", None), (5, InvalidArgumentError)],
)
def test_bad_filters(conn, text, error):
    if error is None:  # injected text is just a (non-matching) value
        assert ids(conn, "team:\"';DROP/**/TABLE/**/faces;--\"") == []
        with pytest.raises(InvalidArgumentError, match="without spaces"):  # FRS refuses spaces in strings
            filter_sql("team:\"'; DROP TABLE faces; --\"", SCHEMA)
        return
    with pytest.raises(error):
        filter_sql(text, SCHEMA)


def test_sort_spec():
    assert check_sort([{"badge": "desc"}, {"score": "ASC"}], SCHEMA) == [("badge", True), ("score", False)]
    with pytest.raises(UnsupportedSortError, match="numbers only"):  # FRS sorts on numbers only
        check_sort([{"team": "asc"}], SCHEMA)
    with pytest.raises(UnsupportedSortError):
        check_sort([{"nope": "asc"}], SCHEMA)
    with pytest.raises(InvalidArgumentError):
        check_sort("badge", SCHEMA)


@pytest.mark.parametrize(
    "text, expected",
    [("(!team:red)", [0, 2, 4, 6, 8]), ("badge:[1 TO 4] && (!team:red)", [2, 4]), ("!badge:3 AND badge:[* TO 4]", [0, 1, 2, 4]),
     ("badge:[2 TO 3] || !(team:blue)", [1, 2, 3, 5, 7, 9])],
)
def test_huawei_not_forms(conn, text, expected):
    assert ids(conn, text) == expected


def test_open_range_means_has_the_field(conn):
    conn.execute("INSERT INTO faces VALUES (10, 0, 'img10', '{}')")  # no badge, no team
    assert ids(conn, "badge:[* TO *]") == list(range(10))
    assert ids(conn, "NOT team:{* TO *}") == [10]


@pytest.mark.parametrize(
    "text, message",
    [("! " * 2000 + "badge:1", "nested deeper"), ("team:" + "a" * 5000, "longer than"),
     ("(" * 400 + "badge:1" + ")" * 400, "nested deeper"), ("NOT " * 40 + "badge:1", "nested deeper"),
     (" OR ".join(f"badge:{i}" for i in range(101)), "more than 100 conditions")],
)
def test_filters_are_bounded(text, message):
    with pytest.raises(InvalidArgumentError, match=message):
        filter_sql(text, SCHEMA)


def test_field_names_with_a_dash(conn):
    conn.execute("""INSERT INTO faces VALUES (11, 0, 'img11', '{"shift-a": "night"}')""")
    where, params = filter_sql("shift-a:night", {"shift-a": "string"})
    assert [r[0] for r in conn.execute(f"SELECT face_id FROM faces WHERE {where}", params)] == [11]
