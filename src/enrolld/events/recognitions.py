"""Recognition events: transient, through a bounded queue of their own.

`face.recognized` and `face.unknown` say who is at the door now; one that arrives an hour
late is noise. So they never touch the outbox (whose rows wait, durable, for the broker and
keep enrollment events at least once): they wait in a bounded in-memory queue that drops the
oldest when full (counted in `enrolld_recognition_events_dropped_total`) and go out at QoS 0
only while the broker is connected. A burst of recognitions therefore never delays or
crowds out enrollment events, and an outage costs at most `recognize.event_queue` messages of
memory.

Each recognition is published to (docs/events.md):
    <base>/events/face.recognized | face.unknown    every one
    <base>/matches/<person>                          recognized only (Double Take style)
    <base>/last_recognized                           retained, recognized only
"""

from __future__ import annotations

import base64
import collections
import logging
import re
import threading

from .payloads import PAYLOAD_VERSION, Topics, encode, iso_time

log = logging.getLogger(__name__)


def person_topic_name(person_id: int, name: str | None) -> str:
    """The <person> of matches/<person>: the name made topic-safe, else the person id."""
    if name:
        slug = re.sub(r"[^\w-]+", "_", name.strip().lower()).strip("_")
        if slug:
            return slug
    return str(person_id)


def recognition_payload(recognition, device_id: str, *, include_chip: bool = False) -> dict:
    """The JSON object of one face.recognized / face.unknown event."""
    from ..enroll import chip_jpeg  # lazily: OpenCV only when a chip is asked for

    face = recognition.face
    payload = {
        "v": PAYLOAD_VERSION,
        "event_id": recognition.event_id,
        "type": recognition.type,
        "event_type": recognition.kind,  # what Home Assistant's MQTT event entity reads
        "time": iso_time(recognition.at),
        "timestamp": round(recognition.at, 3),
        "device_id": device_id,
        "camera": recognition.camera,
        "box": face.box.as_dict(),
        "quality": {k: v for k, v in face.quality.as_dict().items() if k not in ("passed", "reasons")},
    }
    match = recognition.match
    if recognition.kind == "recognized":
        payload.update(match.as_dict())
    else:
        payload["best"] = None if match is None else match.as_dict()
    if include_chip and face.chip is not None:
        jpeg = chip_jpeg(face.chip)
        payload["chip"] = base64.b64encode(jpeg).decode() if jpeg else None
    return payload


def recognition_messages(recognition, topics: Topics, device_id: str, *, include_chip: bool = False):
    """[(topic, payload bytes, retain)] for one recognition."""
    payload = recognition_payload(recognition, device_id, include_chip=include_chip)
    body = encode(payload)
    messages = [(topics.recognition(recognition.kind), body, False)]
    if recognition.kind == "recognized":
        person = person_topic_name(recognition.match.person_id, recognition.match.name)
        messages.append((topics.match(person), body, False))
        if include_chip:  # the retained copy stays small
            body = encode({k: v for k, v in payload.items() if k != "chip"})
        messages.append((topics.last_recognized, body, True))
    return messages


class RecognitionQueue:
    """Bounded, drop-oldest; a thread publishes while the broker is connected.

        queue = RecognitionQueue(link, capacity=100, metrics=metrics)
        queue.start()
        queue.put(messages)          # never blocks; may drop the oldest waiting recognition
    """

    def __init__(self, link, *, capacity: int, metrics=None):
        self.link = link  # enrolld.events.mqtt.MqttLink
        self.capacity = capacity
        self.metrics = metrics
        self.dropped = 0
        self.published = 0
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def put(self, messages) -> None:
        with self._cond:
            self._items.append(list(messages))
            while len(self._items) > self.capacity:
                self._items.popleft()
                self.dropped += 1
                if self.metrics is not None:
                    self.metrics.recognition_events_dropped.inc()
            self._report_depth()
            self._cond.notify()

    def depth(self) -> int:
        with self._cond:
            return len(self._items)

    def wake(self) -> None:
        """The broker is back: look now."""
        with self._cond:
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="recognition-events", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Send what the connected broker takes within the timeout; the rest is forgotten."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _report_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.recognition_queue_depth.set(len(self._items))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not (self._items and self.link.connected.is_set()):
                    self._cond.wait(0.5)
                if not self._items or not self.link.connected.is_set():
                    return  # stopping, with nothing that can go out
                messages = self._items[0]
            if self._publish(messages):
                with self._cond:
                    if self._items and self._items[0] is messages:
                        self._items.popleft()
                    self.published += 1
                    self._report_depth()

    def _publish(self, messages) -> bool:
        import paho.mqtt.client as mqtt

        for topic, body, retain in messages:
            info = self.link.publish(topic, body, qos=0, retain=retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:  # the link went down under us: keep it queued
                return False
        return True
