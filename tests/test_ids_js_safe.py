"""Face and person ids that JavaScript keeps: every new id is at most 2**53 - 1, still
time-ordered and unique per device.node; databases with the earlier 63-bit ids keep working;
and a Node.js client (Debian's nodejs) parses the API's JSON and deletes by the parsed id."""

import json
import shutil
import sqlite3
import subprocess

import pytest
from conftest import ACCU_ID, ACCU_SECRET, analysed_face, make_config, random_unit

from enrolld.store import ids
from enrolld.store.facestore import FaceStore
from enrolld.store.ids import MAX_SAFE_ID, IdGenerator, id_parts

MODEL = "test-model"


def test_ids_are_js_safe_time_ordered_and_carry_the_node():
    gen = IdGenerator(1023)
    values = [gen.next_id() for _ in range(20_000)]  # far faster than 4 per millisecond: borrows
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(0 < v <= MAX_SAFE_ID for v in values)
    assert {id_parts(v)[1] for v in values} == {1023}


def test_two_nodes_at_the_same_instant_never_collide():
    now = [1_800_000_000.0]
    a, b = IdGenerator(1, clock=lambda: now[0]), IdGenerator(2, clock=lambda: now[0])
    values_a = {a.next_id() for _ in range(1000)}
    values_b = {b.next_id() for _ in range(1000)}
    assert not values_a & values_b


def test_the_largest_id_is_the_last_safe_integer_in_2093():
    end_of_range = (ids.EPOCH_MS + ((1 << 41) - 1)) / 1000  # the last millisecond of the layout
    gen = IdGenerator(ids.MAX_NODE, clock=lambda: end_of_range)
    values = [gen.next_id() for _ in range(4)]
    assert values[-1] == MAX_SAFE_ID
    with pytest.raises(OverflowError):
        gen.next_id()


def test_a_store_reopened_with_its_clock_behind_continues_above_its_ids(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    store = FaceStore(config)
    store.create_face_set("s")
    first = store.add_face("s", analysed_face(seed=1), MODEL)
    store.close()
    # a Pi without an RTC boots with an older time: the seed from the database keeps ids unique
    monkeypatch.setattr(ids.time, "time", lambda: id_parts(first.face_id)[0] - 3600)
    again = FaceStore(config)
    second = again.add_face("s", analysed_face(seed=2), MODEL)
    assert second.face_id > first.face_id and second.person_id > first.person_id
    again.close()


def legacy_id(unix_s: float, node: int, sequence: int) -> int:
    """The 63-bit layout databases carry from before (41 bits ms, 10 node, 12 sequence)."""
    return ((int(unix_s * 1000) - ids.EPOCH_MS) << 22) | (node << 12) | sequence


def test_a_database_with_63_bit_ids_keeps_working(tmp_path):
    config = make_config(tmp_path)
    store = FaceStore(config)
    store.create_face_set("s")
    old = store.add_face("s", analysed_face(seed=3), MODEL, person_id=7)
    old_id = legacy_id(1_760_000_000, 0, 5)
    assert old_id > MAX_SAFE_ID
    store.close()
    with sqlite3.connect(config.store_path) as conn:  # the file as the earlier release left it
        conn.execute("UPDATE faces SET face_id = ? WHERE face_id = ?", (old_id, old.face_id))
    conn.close()

    again = FaceStore(config)
    assert again.face("s", old_id).person_id == 7
    assert again.search("s", random_unit(3), MODEL)[0].face.face_id == old_id
    new = again.add_face("s", analysed_face(seed=4), MODEL)
    assert new.face_id <= MAX_SAFE_ID and new.person_id <= MAX_SAFE_ID
    assert again.delete_faces("s", face_id=old_id) == 1
    assert again.face_counts() == {"s": 1}
    again.close()


NODE_CLIENT = r"""
// What a Node-RED function node does: JSON.parse the answer, send the id back.
const [base, id, secret, imageB64] = process.argv.slice(2);
const headers = {"X-DF-API-ID": id, "X-DF-API-SECRET": secret, "Content-Type": "application/json"};
const call = async (path, body) => {
  const response = await fetch(base + "/faceset/" + path, {method: "POST", headers, body: JSON.stringify(body)});
  return {status: response.status, body: JSON.parse(await response.text())};
};
(async () => {
  const created = await call("v2/create", {name: "door"});
  const added = await call("v2/add_face", {name: "door", image_base64: imageB64});
  const faceId = added.body.result.face_id;  // a JavaScript Number
  const deleted = await call("v2/delete_face", {name: "door", face_id: faceId});
  const left = await call("v2/list_faces", {name: "door"});
  console.log(JSON.stringify({created: created.status, added: added.body, faceId, safe: Number.isSafeInteger(faceId),
                              personSafe: Number.isSafeInteger(added.body.result.person_id),
                              deleted: deleted.body, left: left.body.result}));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def node_binary() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("Node.js is not installed (Debian's nodejs; scripts/bootstrap --dev)")
    return node


def test_javascript_keeps_old_ids_wrong_and_new_ids_exact():
    """The failure this fixes, shown by Node itself: a 63-bit id does not survive JSON.parse."""
    node = node_binary()
    old, new = 382835395672408065, IdGenerator(5).next_id()
    script = "const v = JSON.parse(process.argv[1]); console.log(JSON.stringify(v.map(String)))"
    out = subprocess.run([node, "-e", script, json.dumps([old, new])], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    parsed_old, parsed_new = json.loads(out.stdout)
    assert parsed_old != str(old)  # 382835395672408060: the reason for the 53-bit layout
    assert parsed_new == str(new)


def test_node_client_deletes_by_the_face_id_it_parsed(api, astronaut_jpeg, tmp_path):
    import base64

    node = node_binary()
    script = tmp_path / "client.js"
    script.write_text(NODE_CLIENT)
    image = base64.b64encode(astronaut_jpeg).decode()
    out = subprocess.run([node, str(script), api.url, ACCU_ID, ACCU_SECRET, image],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["created"] == 200 and result["added"]["status"] == "OK", result
    assert result["safe"] and result["personSafe"], result
    assert result["deleted"]["status"] == "OK" and result["deleted"]["result"] == {"deleted": 1}, result
    assert result["left"] == []
