"""The person registry as the face store offers it: a display name per person id.

A mixin of FaceStore (it uses the store's database and id generator); the rows live in
persons.py. Forgetting a person together with their faces touches face sets and the search
index, so that one stays in facestore.py.
"""

from __future__ import annotations

from . import faces as face_rows
from . import outbox, persons
from .errors import InvalidArgumentError
from .persons import Person


class PersonRegistry:
    def set_person_name(self, person_id: int, name: str) -> Person:
        person_id = face_rows.check_int64("person_id", person_id)
        if person_id is None:
            raise InvalidArgumentError("person_id is required", field="person_id")
        name = persons.check_name(name)
        with self.database.transaction() as tx:
            person = persons.set_name(tx.conn, person_id, name)
            outbox.append(tx.conn, "person.named", person.event_body())
        return person

    def person(self, person_id: int) -> Person | None:
        return persons.get(self.database.reader(), person_id)

    def person_name(self, person_id: int) -> str | None:
        person = self.person(person_id)
        return person.name if person else None

    def person_names(self, person_ids) -> dict[int, str]:
        return persons.names(self.database.reader(), person_ids)

    def person_by_name(self, name: str) -> Person | None:
        return persons.by_name(self.database.reader(), name)

    def persons(self, *, offset: int = 0, limit: int = 100) -> list[Person]:
        return persons.page(self.database.reader(), offset, limit)

    def faces_of_person(self, person_id: int) -> dict[str, int]:
        """How many faces the person has in each face set that holds any."""
        rows = self.database.reader().execute(
            "SELECT s.name, COUNT(*) FROM faces f JOIN face_sets s ON s.id = f.face_set_id "
            "WHERE f.person_id = ? GROUP BY s.name ORDER BY s.name", (person_id,),
        ).fetchall()
        return dict(rows)

    def new_person_id(self) -> int:
        """A fresh person id (an enrollment without one gets one the same way)."""
        return self._ids.next_id()
