"""enroll DIR, export and import as an operator runs them: real photos, real SQLite files,
the real pipeline; export → import into a fresh state answers searches the same."""

import json
import shutil

import numpy as np
import pytest
from sample_images import SHARED_FACES

from enrolld.cli import main
from enrolld.store.facestore import FaceStore

IDS = SHARED_FACES / "ids"
needs_faces = pytest.mark.skipif(not IDS.is_dir(), reason="../shared/faces is not beside the repository")


def config_file(tmp_path, state):
    path = tmp_path / f"{state}.toml"
    path.write_text(f'[device]\nstate_dir = "{tmp_path / state}"\n[mqtt]\nenabled = false\n')
    return str(path)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Two people's photos as folders named after them, one flat photo, one without a face."""
    root = tmp_path_factory.mktemp("library")
    people = sorted(p for p in IDS.iterdir() if p.is_dir())[:2]
    for person in people:
        (root / person.name).mkdir()
        for photo in sorted(person.iterdir())[:2]:
            shutil.copy(photo, root / person.name / photo.name)
    shutil.copy(sorted(people[0].iterdir())[-1], root / "loose.jpg")
    noface = sorted(p for p in (SHARED_FACES / "noface").iterdir() if p.suffix.lower() in (".jpg", ".png"))[0]
    shutil.copy(noface, root / ("zz-noface" + noface.suffix))
    return root, [p.name for p in people]


@needs_faces
def test_enroll_a_folder_then_export_and_import_into_a_fresh_state(tmp_path, library, capsys):
    root, names = library
    live = config_file(tmp_path, "live")
    assert main(["enroll", str(root), "--face-set", "staff", "--json", "--config", live]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["enrolled"] == 5 and report["refused"] == 1, report
    assert report["refusals"][0]["file"].startswith("zz-noface") and report["refusals"][0]["reasons"] == ["no_face"]
    assert "6/6" in err  # the progress bar reached the end
    by_name = {f["name"]: f["person_id"] for f in report["faces"] if f["name"]}
    assert set(by_name) == set(names)

    export = tmp_path / "staff.json"
    assert main(["export", "--face-set", "staff", str(export), "--config", live]) == 0
    document = json.loads(export.read_text())
    assert len(document["faces"]) == 5 and set(document["persons"].values()) == set(names)
    assert set(document["faces"][0]) == {"face_id", "person_id", "external_image_id", "external_fields", "box", "quality",
                                         "created_at", "embedding", "source", "chip"}  # the 150 px chip, no photo

    fresh = config_file(tmp_path, "fresh")
    assert main(["import", str(export), "--config", fresh]) == 0
    source, copy = FaceStore(_load(live)), FaceStore(_load(fresh))
    try:
        for record, embedding in source.faces_with_embeddings("staff")[1]:
            a = [(h.face.face_id, round(h.similarity, 6)) for h in source.search("staff", embedding, record.model_id, top_n=5)]
            b = [(h.face.face_id, round(h.similarity, 6)) for h in copy.search("staff", embedding, record.model_id, top_n=5)]
            assert a == b
        assert {copy.person_name(int(pid)) for pid in by_name.values()} == set(names)
    finally:
        source.close()
        copy.close()
    capsys.readouterr()
    assert main(["import", str(export), "--config", fresh]) == 2  # the set exists now
    assert "already exists" in capsys.readouterr().err


def _load(path):
    from enrolld import config

    return config.load(path)


def test_import_refuses_another_model_and_a_damaged_file(tmp_path, capsys):
    from enrolld.store import transfer

    export = tmp_path / "other.json"
    face = {"face_id": "1", "person_id": "2", "external_image_id": "x", "box": [0, 0, 9, 9], "created_at": 1.0,
            "embedding": transfer.base64.b64encode(np.zeros(128, "<f4").tobytes()).decode()}
    export.write_text(json.dumps({"format": transfer.FORMAT, "version": 1, "model_id": "someone-elses-model",
                                  "face_set": {"name": "x"}, "faces": [face]}))
    assert main(["import", str(export), "--config", config_file(tmp_path, "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "someone-elses-model" in err and "refused" in err
    (tmp_path / "junk.json").write_text("{not json")
    assert main(["import", str(tmp_path / "junk.json"), "--config", config_file(tmp_path, "s")]) == 2
    assert "not an enrolld export" in capsys.readouterr().err
    assert main(["export", "--face-set", "nope", str(tmp_path / "o.json"), "--config", config_file(tmp_path, "s")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["enroll", str(tmp_path / "missing"), "--face-set", "s", "--config", config_file(tmp_path, "s")]) == 2
