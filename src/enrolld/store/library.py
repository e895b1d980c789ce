"""Read queries for the face library page: a face set's faces newest first, a page at a time,
searched by person name, external image id or person id, and each face's chip.

Paging is by key (face ids are time-ordered), not by OFFSET, so the last page of 100,000 faces
costs what the first does: `faces_by_set_face (face_set_id, face_id)` walks straight to it.

    library = Library(store)
    page = library.page("staff", before=None, limit=60)
    jpeg = library.chip(page.faces[0].face_id)     # None: not kept (store.keep_chips = false)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# external image ids are [A-Za-z0-9_-]; '~' sorts after all of them, closing a prefix range
_PREFIX_END = "~"
_ID_TEXT = re.compile(r"[A-Za-z0-9_\-]{1,36}")


@dataclass(frozen=True)
class LibraryFace:
    face_id: int
    person_id: int
    external_image_id: str
    created_at: float
    source: str
    has_chip: bool


@dataclass(frozen=True)
class LibraryPage:
    faces: list[LibraryFace]
    older: int | None  # `before=` for the next (older) page, None on the last page
    newer: int | None  # `after=` for the previous (newer) page, None on the first page


_SELECT = (
    "SELECT f.face_id, f.person_id, f.external_image_id, f.created_at, f.source, c.face_id IS NOT NULL "
    "FROM faces f LEFT JOIN face_chips c ON c.face_id = f.face_id "
)


class Library:
    def __init__(self, store):
        self.store = store  # enrolld.store.facestore.FaceStore

    def page(self, face_set_name: str, *, before: int | None = None, after: int | None = None,
             limit: int = 60, query: str = "", person_ids=None) -> LibraryPage:
        """Up to `limit` faces, newest first: those older than face `before`, or the page just
        newer than face `after`. `query` keeps faces whose external image id starts with it,
        whose person id is it, or whose person's name contains it."""
        face_set = self.store.face_set(face_set_name)
        where, params = ["f.face_set_id = ?"], [face_set.id]
        if query and person_ids is None:
            person_ids = self.persons_named_like(query)
        matched = _matching(query, person_ids)
        if matched is not None:
            where.append(matched[0])
            params += matched[1]
        if after is not None:
            rows = self._rows(where + ["f.face_id > ?"], params + [int(after)], "ASC", limit + 1)
            newer = rows[limit - 1][0] if len(rows) > limit else None
            rows = rows[:limit][::-1]
            older = rows[-1][0] if rows else None
        else:
            extra = [] if before is None else ["f.face_id < ?"]
            rows = self._rows(where + extra, params + ([] if before is None else [int(before)]), "DESC", limit + 1)
            older = rows[limit - 1][0] if len(rows) > limit else None
            rows = rows[:limit]
            newer = rows[0][0] if before is not None and rows else None
        if newer is not None and not self._rows(where + ["f.face_id > ?"], params + [newer], "ASC", 1):
            newer = None
        faces = [LibraryFace(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]
        return LibraryPage(faces, older, newer)

    def _rows(self, where, params, order: str, limit: int):
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY f.face_id {order} LIMIT ?"
        return self.store.database.reader().execute(sql, (*params, limit)).fetchall()

    def persons_named_like(self, text: str, limit: int = 500) -> list[int]:
        """Person ids whose name contains text (case-insensitive for ASCII letters)."""
        text = " ".join(str(text).split())
        if not text:
            return []
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.store.database.reader().execute(
            "SELECT person_id FROM persons WHERE name LIKE ? ESCAPE '\\' LIMIT ?", (pattern, limit)
        )
        return [r[0] for r in rows]

    def chip(self, face_id: int) -> bytes | None:
        row = self.store.database.reader().execute(
            "SELECT jpeg FROM face_chips WHERE face_id = ?", (int(face_id),)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def face_ids_of_person(self, face_set_name: str, person_id: int) -> list[int]:
        face_set = self.store.face_set(face_set_name)
        rows = self.store.database.reader().execute(
            "SELECT face_id FROM faces WHERE face_set_id = ? AND person_id = ?", (face_set.id, int(person_id))
        )
        return [r[0] for r in rows]


def _matching(query: str, person_ids) -> tuple[str, list] | None:
    """The SQL condition (bound parameters only) for a search, or None for no search."""
    query = (query or "").strip()
    ors, params = [], []
    if query and _ID_TEXT.fullmatch(query):
        ors.append("(f.external_image_id >= ? AND f.external_image_id < ?)")
        params += [query, query + _PREFIX_END]
    if query.lstrip("-").isdigit() and len(query) <= 19:
        ors.append("f.person_id = ?")
        params.append(int(query))
    if person_ids:
        ids = [int(i) for i in person_ids][:500]
        ors.append(f"f.person_id IN ({','.join('?' * len(ids))})")
        params += ids
    if not query and not person_ids:
        return None
    if not ors:
        return "0", []
    return "(" + " OR ".join(ors) + ")", params
