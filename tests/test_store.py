"""The face store on a real SQLite file: sets, faces, capacity, events, deletion, restart."""

import json
import sqlite3
import threading

import numpy as np
import pytest
from conftest import analysed_face, make_config, random_unit

from enrolld.store import outbox
from enrolld.store.errors import (
    CapacityError,
    FaceNotFoundError,
    FaceSetExistsError,
    FaceSetLimitError,
    FaceSetNotFoundError,
    InvalidArgumentError,
    ModelMismatchError,
    UnknownFieldError,
)
from enrolld.store.facestore import FaceStore
from enrolld.store.ids import IdGenerator, id_parts

MODEL = "dlib-resnet-int8"


def events(store):
    return [(e.type, e.body) for e in outbox.pending(store.database.reader(), limit=1000)]


def test_pragmas_wal_full_secure_delete(face_store):
    conn = face_store.database.reader()  # every connection is made by database.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert face_store.healthy()


def test_create_list_get_delete_face_set_with_events(face_store):
    created = face_store.create_face_set("staff", external_fields={"badge": {"type": "long"}}, description="door")
    assert len(created.id) == 8 and created.id.isalpha()
    assert created.capacity == 100_000 and created.external_fields == {"badge": "long"}
    assert [s.name for s in face_store.face_sets()] == ["staff"]
    assert face_store.face_set("staff").description == "door"
    with pytest.raises(FaceSetExistsError):
        face_store.create_face_set("staff")
    face_store.delete_face_set("staff")
    with pytest.raises(FaceSetNotFoundError):
        face_store.face_set("staff")
    assert events(face_store) == [
        ("face_set.created", {"face_set": "staff", "face_set_id": created.id}),
        ("face_set.deleted", {"face_set": "staff", "face_set_id": created.id}),
    ]


@pytest.mark.parametrize(
    "name", ["", "_hidden", "a/b", "a\\b", 'q"uote', "it's", "tab\there", "nl\n", "x" * 65, "..", "sp ace", None, 7]
)
def test_face_set_names_refused(face_store, name):
    with pytest.raises(InvalidArgumentError):
        face_store.create_face_set(name)


@pytest.mark.parametrize("capacity", [0, 5, 10_001, 110_000, True, "10000", -10_000])
def test_capacity_must_be_multiple_of_10000(face_store, capacity):
    with pytest.raises(InvalidArgumentError):
        face_store.create_face_set("s", capacity=capacity)


@pytest.mark.parametrize(
    "schema",
    [{"vector": {"type": "string"}}, {"a": {"type": "blob"}}, {"": {"type": "long"}}, {"x" * 37: "long"}, ["a"]],
)
def test_external_field_schema_refused(face_store, schema):
    with pytest.raises(InvalidArgumentError):
        face_store.create_face_set("s", external_fields=schema)


def test_max_face_sets(tmp_path):
    store = FaceStore(make_config(tmp_path, store={"max_face_sets": 2}))
    store.create_face_set("a")
    store.create_face_set("b")
    with pytest.raises(FaceSetLimitError):
        store.create_face_set("c")
    store.close()


def test_add_face_records_both_vocabularies_and_event(face_store):
    face_store.create_face_set("s", external_fields={"badge": "long", "name": "string"})
    face = analysed_face(seed=1)
    rec = face_store.add_face("s", face, MODEL, person_id=7, external_image_id="img-1", external_fields={"badge": 12})
    assert rec.person_id == 7 and rec.external_image_id == "img-1" and rec.external_fields == {"badge": 12}
    assert rec.model_id == MODEL and rec.box == face.box
    assert face_store.face("s", rec.face_id) == rec
    kind, body = events(face_store)[-1]
    assert kind == "face.added"
    assert body["face_id"] == rec.face_id and body["box"] == {"x": 10, "y": 20, "width": 120, "height": 140}
    assert body["quality"]["passed"] is True and "embedding" not in body
    assert body["source"] == "api"
    face_store.add_face("s", analysed_face(seed=3), MODEL, source="button")
    assert events(face_store)[-1][1]["source"] == "button"
    generated = face_store.add_face("s", analysed_face(seed=2), MODEL)
    assert generated.person_id > 0 and len(generated.external_image_id) == 36
    assert face_store.face_counts() == {"s": 3}


@pytest.mark.parametrize(
    "fields, error",
    [({"nope": 1}, UnknownFieldError), ({"badge": "x"}, InvalidArgumentError), ({"badge": 2**63}, InvalidArgumentError),
     ({"name": ""}, InvalidArgumentError), ({"name": "x" * 257}, InvalidArgumentError), ({"n": 2**31}, InvalidArgumentError),
     ({"d": float("nan")}, InvalidArgumentError), ({"badge": True}, InvalidArgumentError), ("str", InvalidArgumentError)],
)
def test_external_field_values_checked(face_store, fields, error):
    face_store.create_face_set("s", external_fields={"badge": "long", "name": "string", "n": "integer", "d": "double"})
    with pytest.raises(error):
        face_store.add_face("s", analysed_face(), MODEL, external_fields=fields)


@pytest.mark.parametrize("bad", ["", "a" * 37, "a/b", "a b", "ü", 5])
def test_external_image_id_checked(face_store, bad):
    face_store.create_face_set("s")
    with pytest.raises(InvalidArgumentError):
        face_store.add_face("s", analysed_face(), MODEL, external_image_id=bad)


def test_add_into_missing_set(face_store):
    with pytest.raises(FaceSetNotFoundError):
        face_store.add_face("ghost", analysed_face(), MODEL)


def test_capacity_race_leaves_exactly_one(tmp_path):
    store = FaceStore(make_config(tmp_path))
    store.create_face_set("s", capacity=10_000)
    faces = [analysed_face(seed=i) for i in range(9_999)]
    for start in range(0, len(faces), 1000):
        store.add_faces("s", faces[start:start + 1000], MODEL)
    results, barrier = [], threading.Barrier(32)

    def add(seed):
        barrier.wait()
        try:
            results.append(store.add_face("s", analysed_face(seed=100_000 + seed), MODEL))
        except CapacityError:
            results.append(None)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(32)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(r is not None for r in results) == 1
    assert store.face_set("s").face_count == 10_000 == store.face_counts()["s"]
    store.close()


def test_search_ranks_by_similarity_and_threshold(face_store):
    face_store.create_face_set("s")
    target = random_unit(5)
    near = target + 0.05 * random_unit(6)
    recs = [face_store.add_face("s", analysed_face(seed=100 + i), MODEL) for i in range(20)]
    best = face_store.add_face("s", analysed_face(near / np.linalg.norm(near)), MODEL)
    hits = face_store.search("s", target, MODEL, top_n=3)
    assert hits[0].face.face_id == best.face_id and hits[0].similarity > 0.93
    assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
    assert [h.face.face_id for h in face_store.search("s", target, MODEL, top_n=5, threshold=0.9)] == [best.face_id]
    assert len(recs) == 20


def test_search_filter_sort_and_start_time(face_store):
    face_store.create_face_set("s", external_fields={"badge": "long", "team": "string"})
    for i in range(10):
        face_store.add_face("s", analysed_face(seed=i), MODEL, external_fields={"badge": i, "team": "red" if i % 2 else "blue"})
    query = random_unit(3)
    hits = face_store.search("s", query, MODEL, top_n=10, filter="team:red AND badge:[3 TO *]")
    assert sorted(h.face.external_fields["badge"] for h in hits) == [3, 5, 7, 9]
    hits = face_store.search("s", query, MODEL, top_n=4, sort=[{"badge": "asc"}])
    badges = [h.face.external_fields["badge"] for h in hits]
    assert badges == sorted(badges) and len(badges) == 4
    assert face_store.search("s", query, MODEL, top_n=10, created_after=2e9) == []
    with pytest.raises(UnknownFieldError):
        face_store.search("s", query, MODEL, filter="nope:1")
    with pytest.raises(InvalidArgumentError):
        face_store.search("s", query, MODEL, sort=[{"nope": "asc"}])


def test_search_never_mixes_models(face_store):
    face_store.create_face_set("s")
    old = face_store.add_face("s", analysed_face(seed=1), "old-model")
    with pytest.raises(ModelMismatchError, match="re-enroll"):
        face_store.search("s", random_unit(1), MODEL)
    face_store.delete_faces("s", face_id=old.face_id)
    face_store.add_face("s", analysed_face(seed=1), MODEL)
    assert face_store.search("s", random_unit(1), MODEL)[0].similarity > 0.99


def test_update_face(face_store):
    face_store.create_face_set("s", external_fields={"badge": "long"})
    rec = face_store.add_face("s", analysed_face(), MODEL, external_image_id="a")
    updated = face_store.update_face("s", rec.face_id, external_image_id="b", external_fields={"badge": 3})
    assert (updated.external_image_id, updated.external_fields) == ("b", {"badge": 3})
    assert events(face_store)[-1][0] == "face.updated"
    with pytest.raises(FaceNotFoundError):
        face_store.update_face("s", 12345, external_image_id="c")


def test_delete_by_each_selector(face_store):
    face_store.create_face_set("s", external_fields={"badge": "long"})
    recs = [face_store.add_face("s", analysed_face(seed=i), MODEL, external_image_id=f"img{i % 3}",
                                external_fields={"badge": i}) for i in range(9)]
    assert face_store.delete_faces("s", face_id=recs[0].face_id) == 1
    assert face_store.delete_faces("s", external_image_id="img1") == 3
    assert face_store.delete_faces("s", fields={"badge": "8"}) == 1
    assert face_store.delete_faces("s", filter="badge:[0 TO 5]") == 3  # 2, 3, 5 remain of 0..5
    assert face_store.delete_faces("s", face_id=recs[0].face_id) == 0
    assert face_store.face_counts()["s"] == 1
    deleted = [b for t, b in events(face_store) if t == "face.deleted"]
    assert len(deleted) == 8 and set(deleted[0]) >= {"face_id", "person_id", "external_image_id"}
    hits = face_store.search("s", random_unit(1), MODEL, top_n=10)
    assert [h.face.external_fields["badge"] for h in hits] == [6]


def test_deleted_embedding_bytes_leave_the_disk(tmp_path):
    store = FaceStore(make_config(tmp_path))
    store.create_face_set("s")
    keep = store.add_face("s", analysed_face(seed=1), MODEL)
    doomed_face = analysed_face(seed=2)
    doomed = store.add_face("s", doomed_face, MODEL)
    needle = doomed_face.embedding.astype("<f4").tobytes()[:64]
    files = lambda: b"".join(p.read_bytes() for p in tmp_path.glob("enrolld.sqlite3*"))  # noqa: E731
    assert needle in files()
    store.delete_faces("s", face_id=doomed.face_id)
    assert needle not in files()
    assert store.face("s", keep.face_id)
    store.delete_face_set("s")
    assert analysed_face(seed=1).embedding.astype("<f4").tobytes()[:64] not in files()
    store.close()


def test_keep_images(tmp_path):
    store = FaceStore(make_config(tmp_path, store={"keep_images": True}))
    store.create_face_set("s")
    rec = store.add_face("s", analysed_face(), MODEL, image=b"jpegbytes")
    assert store.database.reader().execute("SELECT image FROM face_images WHERE face_id=?", (rec.face_id,)).fetchone() == (b"jpegbytes",)
    store.close()
    store = FaceStore(make_config(tmp_path / "other"))
    store.create_face_set("s")
    store.add_face("s", analysed_face(), MODEL, image=b"jpegbytes")
    assert store.database.reader().execute("SELECT COUNT(*) FROM face_images").fetchone() == (0,)
    store.close()


def test_persistence_across_restart(tmp_path):
    config = make_config(tmp_path)
    store = FaceStore(config)
    store.create_face_set("s", external_fields={"badge": "long"})
    rec = store.add_face("s", analysed_face(seed=9), MODEL, external_fields={"badge": 1})
    store.close()
    again = FaceStore(config)
    assert again.face("s", rec.face_id) == rec
    assert again.search("s", random_unit(9), MODEL)[0].face.face_id == rec.face_id
    assert again.face_counts() == {"s": 1}
    again.close()


def test_ids_time_ordered_unique_and_carry_node():
    gen = IdGenerator(513)
    values = [gen.next_id() for _ in range(10_000)]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(0 < v < 2**63 for v in values)
    assert id_parts(values[0])[1] == 513
    with pytest.raises(ValueError):
        IdGenerator(1024)


def test_ids_survive_clock_going_back():
    now = [1_800_000_000.0]
    gen = IdGenerator(1, clock=lambda: now[0])
    first = gen.next_id()
    now[0] -= 5
    assert gen.next_id() > first


def test_outbox_in_same_transaction_as_change(face_store, monkeypatch):
    face_store.create_face_set("s")

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(outbox, "append", broken)
    with pytest.raises(sqlite3.OperationalError):
        face_store.add_face("s", analysed_face(), MODEL)
    assert face_store.face_counts() == {"s": 0}
    assert face_store.faces("s") == []
    assert json.loads(json.dumps(face_store.face_set("s").face_count)) == 0


def test_commit_listeners_run_after_each_committed_change_and_not_after_a_rollback(face_store):
    commits = []
    face_store.on_commit(lambda: commits.append(outbox.depth(face_store.database.reader())))
    face_store.create_face_set("s")
    face_store.add_face("s", analysed_face(seed=1), MODEL)
    assert commits == [1, 2]  # called after COMMIT: the new outbox row is already visible
    with pytest.raises(FaceSetExistsError):
        face_store.create_face_set("s")
    assert commits == [1, 2]


def test_faces_another_process_writes_are_searchable_without_a_restart(store_config):
    daemon, cli = FaceStore(store_config), FaceStore(store_config)  # two writers of one file, like serve + enroll
    try:
        daemon.create_face_set("s")
        assert daemon.search("s", random_unit(1), MODEL) == []
        record = cli.add_face("s", analysed_face(seed=1), MODEL)
        hits = daemon.search("s", random_unit(1), MODEL, top_n=1)
        assert [h.face.face_id for h in hits] == [record.face_id]
        assert daemon.embedding_of("s", record.face_id)[1] == MODEL
        own = daemon.add_face("s", analysed_face(seed=2), MODEL)  # our own write: no reload, both found
        assert {h.face.face_id for h in daemon.search("s", random_unit(2), MODEL, top_n=5)} == {record.face_id, own.face_id}
        cli.delete_faces("s", face_id=record.face_id)
        assert [h.face.face_id for h in daemon.search("s", random_unit(1), MODEL, top_n=5)] == [own.face_id]
        assert daemon.face_counts() == {"s": 1}
    finally:
        cli.close()
        daemon.close()


def test_two_writers_of_one_file_never_issue_the_same_id(store_config):
    first, second = FaceStore(store_config), FaceStore(store_config)
    try:
        first.create_face_set("s")
        clock_frozen = [first.add_face("s", analysed_face(seed=i), MODEL).face_id if i % 2 else
                        second.add_face("s", analysed_face(seed=i), MODEL).face_id for i in range(40)]
        assert len(set(clock_frozen)) == 40 and clock_frozen == sorted(clock_frozen)
    finally:
        second.close()
        first.close()


def test_search_sets_answers_over_several_sets_at_once(face_store):
    from conftest import analysed_face, random_unit

    face_store.create_face_set("a")
    face_store.create_face_set("b")
    face_store.create_face_set("other_model")
    [a] = face_store.add_faces("a", [analysed_face(seed=1)], "m", person_id=1)
    [b] = face_store.add_faces("b", [analysed_face(seed=2)], "m", person_id=2)
    face_store.add_faces("other_model", [analysed_face(seed=3)], "x")
    probe = random_unit(2) + 0.05 * random_unit(9)
    [hit] = face_store.search_sets(["a", "b", "gone", "other_model"], probe, "m")
    assert hit.face.face_id == b.face_id and hit.face.face_set_name == "b"
    assert hit.similarity == face_store.search("b", probe, "m", top_n=1)[0].similarity
    [hit] = face_store.search_sets(["a", "b"], probe, "m", exclude=frozenset({b.face_id}))
    assert hit.face.face_id == a.face_id
    assert [h.face.face_id for h in face_store.search_sets(["a", "b"], probe, "m", top_n=5)] == [b.face_id, a.face_id]
    assert face_store.search_sets(["gone"], probe, "m") == []
