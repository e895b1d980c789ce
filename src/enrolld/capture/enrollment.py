"""The enrollment flow behind the button and `POST /enrollment`: a burst of frames, the best
face of the burst, one enrollment (or one refusal with its reasons) through enrolld.enroll.

Each frame is analysed without its embedding (detection and the quality gate only), which is
what makes a burst affordable on a Pi; only the chosen face is embedded, from the aligned chip
it already carries, without detecting it again. The best face is the sharpest frontal one:
variance of the Laplacian times cos(yaw)·cos(pitch), so a slightly softer but frontal face
beats a crisp profile.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from dataclasses import dataclass, field

from ..config import CaptureConfig
from ..errors import BusyError, EnrolldError, QualityError
from ..vision.types import Face
from .sources import Frame, FrameSource

log = logging.getLogger(__name__)

ARM_TTL_S = 300.0  # an armed person expires, so a forgotten arm does not hijack a later press


@dataclass(frozen=True)
class EnrollmentResult:
    status: str  # "enrolled" | "refused"
    source: str  # "button" | "http"
    face_set: str
    frames: int
    reasons: tuple[str, ...] = ()
    face_id: int | None = None
    person_id: int | None = None
    external_image_id: str | None = None
    name: str | None = None
    quality: dict | None = None
    frame: str = ""
    duration_s: float = 0.0
    finished_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "source": self.source,
            "face_set": self.face_set,
            "frames": self.frames,
            "reasons": list(self.reasons),
            # strings: int64 ids do not survive JavaScript's JSON numbers
            "face_id": None if self.face_id is None else str(self.face_id),
            "person_id": None if self.person_id is None else str(self.person_id),
            "external_image_id": self.external_image_id,
            "name": self.name,
            "quality": self.quality,
            "frame": self.frame,
            "duration_s": round(self.duration_s, 3),
        }


def face_score(face: Face) -> float:
    q = face.quality
    return q.sharpness * math.cos(math.radians(q.yaw_deg)) * math.cos(math.radians(q.pitch_deg))


class EnrollmentFlow:
    """One enrollment at a time; a press during a burst is ignored, an HTTP call gets BusyError."""

    def __init__(self, source: FrameSource, vision, enrollment, config: CaptureConfig, *, led=None):
        # Enrollments and refusals are counted by enrollment (enrolld.enroll), the path HTTP
        # uploads take too; pipeline latency by the vision worker's observer.
        self.source = source
        self.vision = vision
        self.enrollment = enrollment
        self.config = config
        self.led = led
        self.last_result: EnrollmentResult | None = None
        self._running = threading.Lock()
        self._armed: dict | None = None
        self._armed_until = 0.0
        self.on_armed = None  # callable(armed dict | None): the daemon tells MQTT (<base>/armed)
        self._thread: threading.Thread | None = None
        self._accepting = True

    # arming (HTTP) ---------------------------------------------------------------------

    def arm(self, *, person_id: int | None = None, external_image_id: str | None = None, external_fields=None,
            name: str | None = None) -> dict:
        """The next enrollment (button or HTTP) enrolls this person; once, within ARM_TTL_S."""
        person_id = self.enrollment.person_for(name, person_id)  # a bad name is refused now, not at the press
        self._armed = {"person_id": person_id, "external_image_id": external_image_id, "external_fields": external_fields,
                       "name": name}
        self._armed_until = time.monotonic() + ARM_TTL_S
        self._armed_changed()
        return self.armed() or {}

    def disarm(self) -> None:
        self._armed = None
        self._armed_changed()

    def _armed_changed(self) -> None:
        if self.on_armed is not None:
            try:
                self.on_armed(self.armed())
            except Exception:  # telling Home Assistant must never break an enrollment
                log.exception("on_armed callback failed")

    def armed(self) -> dict | None:
        if self._armed is not None and time.monotonic() > self._armed_until:
            self._armed = None
        if self._armed is None:
            return None
        return dict(self._armed, expires_in_s=round(self._armed_until - time.monotonic(), 1))

    # running -----------------------------------------------------------------------------

    def status(self) -> dict:
        """For /healthz."""
        return {"ok": self._accepting, "source": getattr(self.source, "name", ""), "busy": self.busy,
                "armed": self.armed() is not None}

    @property
    def busy(self) -> bool:
        return self._running.locked()

    def press(self) -> bool:
        """The button: start a burst in the background; False if one is already running."""
        if not self._accepting or self.busy:
            log.info("enrollment button ignored: %s", "stopping" if not self._accepting else "busy")
            return False
        self._thread = threading.Thread(target=self._run_quietly, name="enrollment", daemon=True)
        self._thread.start()
        return True

    def _run_quietly(self) -> None:
        try:
            self.run(source="button")
        except BusyError:
            log.info("enrollment button ignored: busy")
        except Exception:
            log.exception("enrollment from the button failed")

    def run(self, *, source: str = "http", person_id: int | None = None, external_image_id=None,
            external_fields=None, name: str | None = None) -> EnrollmentResult:
        if not self._accepting:
            raise BusyError("the appliance is shutting down")
        if not self._running.acquire(blocking=False):
            raise BusyError("an enrollment is already running")
        started = time.monotonic()
        try:
            if self.led:
                self.led.busy()
            asked = person_id is not None or external_image_id is not None or name
            target = {} if asked else self._take_armed()
            target = {
                "person_id": person_id if person_id is not None else target.get("person_id"),
                "external_image_id": external_image_id or target.get("external_image_id"),
                "external_fields": external_fields or target.get("external_fields"),
                "name": name or target.get("name"),
            }
            result = self._enroll(source, target, started)
        except Exception:
            if self.led:
                self.led.refused()
            raise
        finally:
            self._running.release()
        self.last_result = result
        if self.led:
            self.led.success() if result.status == "enrolled" else self.led.refused()
        log.info("enrollment (%s): %s %s", source, result.status, ", ".join(result.reasons) or result.face_id)
        return result

    def _take_armed(self) -> dict:
        armed = self.armed() or {}
        if self._armed is not None:
            self._armed = None
            self._armed_changed()
        armed.pop("expires_in_s", None)
        return armed

    def _enroll(self, source: str, target: dict, started: float) -> EnrollmentResult:
        face_set = self.config.face_set
        best, frames, reasons = self._burst()
        if best is None:
            reasons = reasons or ("no_face",)
            self.enrollment.refuse(face_set, reasons, source=source, create_set=True)
            return self._result("refused", source, face_set, frames, started, reasons=reasons)
        frame, face = best
        image = frame.encoded() if self.enrollment.keeps_images else None
        try:
            record = self.enrollment.enroll_face(face_set, face, image=image, source=source, create_set=True, **target)
        except QualityError as e:  # refused and recorded by the enrollment path
            return self._result("refused", source, face_set, frames, started, reasons=e.reasons, frame=frame.name)
        return self._result(
            "enrolled", source, face_set, frames, started,
            face_id=record.face_id, person_id=record.person_id, external_image_id=record.external_image_id,
            name=self.enrollment.store.person_name(record.person_id), quality=face.quality.as_dict(), frame=frame.name,
        )

    def _burst(self) -> tuple[tuple[Frame, Face] | None, int, tuple[str, ...]]:
        """Capture for burst_s (at most burst_max_frames); the best passing face and, when
        there is none, why: each reason once, the most frequent first."""
        deadline = time.monotonic() + self.config.burst_s
        frames, best, best_score = 0, None, -1.0
        reasons: collections.Counter[str] = collections.Counter()
        while frames < self.config.burst_max_frames:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            frame = self.source.read(timeout_s=max(0.2, left))
            if frame is None:  # the source has nothing more (a folder at its end)
                break
            frames += 1
            try:
                face = self._analyze(frame).largest
            except BusyError:
                raise  # the worker is overloaded: the burst fails as a whole, not frame by frame
            except EnrolldError as e:  # an unreadable frame is a bad frame, not a failed burst
                reasons[getattr(e, "reason", "unreadable_frame")] += 1
                continue
            if face is None:
                reasons["no_face"] += 1
            elif not face.quality.passed:
                reasons.update(face.quality.reasons)
            elif face_score(face) > best_score:
                best, best_score = (frame, face), face_score(face)
        if frames == 0:
            reasons["no_frames"] += 1
        return best, frames, tuple(r for r, _ in reasons.most_common())

    def _analyze(self, frame: Frame):
        if frame.image is not None:
            return self.vision.analyze_frame(frame.image, embed=False, largest_only=True)
        return self.vision.analyze(frame.data, embed=False, largest_only=True)

    def _result(self, status, source, face_set, frames, started, **fields) -> EnrollmentResult:
        return EnrollmentResult(status, source, face_set, frames, duration_s=time.monotonic() - started, **fields)

    # shutdown ----------------------------------------------------------------------------

    def stop(self, timeout_s: float = 10.0) -> None:
        """Refuse new enrollments and wait for the one in flight."""
        self._accepting = False
        if self._running.acquire(timeout=timeout_s):
            self._running.release()
        else:
            log.warning("an enrollment was still running at shutdown")
        if self.led:
            self.led.off()

