"""A broker outage during 1,000 recognitions and 50 enrollments: every enrollment event
arrives once the broker is back (the outbox), recognition events are dropped oldest first,
counted, and never more than recognize.event_queue are held."""

import json
import time

from conftest import analysed_face, make_config
from helpers import wait_until
from mqtt_broker import Subscriber

from enrolld.events.service import EventService
from enrolld.metrics import AppMetrics
from enrolld.recognize.recent import Match, Recognition
from enrolld.store.facestore import FaceStore

QUEUE = 100


def test_enrollment_events_survive_an_outage_and_recognition_drops_are_bounded(tmp_path, persistent_mqtt_broker):
    broker = persistent_mqtt_broker
    config = make_config(tmp_path, device={"id": "kiosk"},
                         mqtt={"enabled": True, "host": broker.host, "port": broker.port,
                               "reconnect_min_s": 0.1, "reconnect_max_s": 0.5})
    store = FaceStore(config)
    metrics = AppMetrics()
    events = EventService(config.mqtt, device_id="kiosk", db_path=str(config.store_path),
                          face_counts=store.face_counts, metrics=metrics)
    events.enable_recognition(capacity=QUEUE)
    store.on_commit(events.wake)
    sub = Subscriber(broker, "enrolld/kiosk/#", persistent=True)
    events.start()
    try:
        assert events.link.wait_connected(10)
        store.create_face_set("lobby")
        broker.stop()
        # Recognitions sent before the link notices the outage would leave as usual, not queue.
        assert wait_until(lambda: not events.link.connected.is_set(), 10)
        added = []
        for i in range(1000):
            face = analysed_face(seed=i)
            match = Match(person_id=7, face_set="lobby", face_id=10**17 + i, similarity=0.97, name="Ada")
            events.publish_recognition(Recognition("recognized", face, match, "door"))
            if i % 20 == 0:
                [record] = store.add_faces("lobby", [face], "model", person_id=i, source="button")
                added.append(str(record.face_id))
        assert len(added) == 50
        assert events.recognitions.depth() <= QUEUE
        assert events.recognitions.dropped == 1000 - QUEUE
        assert metrics.registry.get_sample_value("enrolld_recognition_events_dropped_total") == 1000 - QUEUE
        broker.start()

        def arrived(kind):
            return [json.loads(p) for t, p, _ in sub.messages if t == f"enrolld/kiosk/events/{kind}"]

        assert sub.wait_for(lambda m: {e["face_id"] for e in arrived("face.added")} >= set(added), timeout=30)
        deadline = time.monotonic() + 30
        while events.recognitions.depth():
            assert time.monotonic() < deadline, "recognition events were not sent after the broker came back"
            time.sleep(0.05)
        assert events.recognitions.published == QUEUE  # the newest QUEUE went out after the return
        assert events.recognitions.dropped == 1000 - QUEUE  # and nothing more was lost
        late = Recognition("recognized", analysed_face(seed=5000), match, "door")
        events.publish_recognition(late)
        assert sub.wait_for(lambda m: late.event_id in {e["event_id"] for e in arrived("face.recognized")})
        # of the outage's 1,000, at most the queue's worth came through (QoS 0 to a subscriber
        # that was away may lose some)
        assert len({e["event_id"] for e in arrived("face.recognized")} - {late.event_id}) <= QUEUE
    finally:
        events.stop(timeout_s=3)
        sub.close()
        store.close()
