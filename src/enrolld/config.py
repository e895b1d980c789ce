"""Typed configuration: one TOML file, validated once at load.

Every section is a frozen dataclass; unknown keys and wrong types are rejected with the
key's dotted path. Secrets may come from the environment (ENROLLD_<SECTION>_<KEY>) or from
systemd credentials ($CREDENTIALS_DIRECTORY/<section>.<key>) so they never live in the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from . import config_checks
from .errors import ConfigError

SECRET_KEYS = frozenset({"token", "secret_key", "api_secret", "password", "metrics_token"})


@dataclass(frozen=True)
class DeviceConfig:
    id: str = "enrolld"  # names this appliance in MQTT topics and Home Assistant
    node: int = 0  # 0..1023, folded into every face_id so ids stay unique across devices
    state_dir: str = "state"  # SQLite file and other state live here (systemd: StateDirectory)
    stop_timeout_s: float = 20.0  # SIGTERM: finish in-flight work and publish within this; keep < TimeoutStopSec


@dataclass(frozen=True)
class VisionConfig:
    accelerator: str = "auto"  # auto | cpu | edgetpu | gpu
    threads: int = 1  # XNNPACK threads on the CPU backend
    detector: str = "full"  # full (faces near and far, 192 px input) | short (selfie range, 128 px)
    detector_precision: str = "int8"  # int8 (our full-integer rebuild: quicker, Edge TPU compilable) | float (MediaPipe's own); the primary pass only
    embedder: str = "int8"  # int8 | float16
    models_dir: str = ""  # empty: the models shipped with the package
    edgetpu_library: str = "libedgetpu.so.1"
    gpu_delegate_library: str = ""  # empty: LiteRT's own GPU accelerator (WebGPU over Vulkan); or a TFLite GPU delegate .so
    min_detection_score: float = 0.5
    max_image_pixels: int = 50_000_000  # header check before decoding: refuses decompression bombs
    max_image_side: int = 20_000
    queue_size: int = 16  # jobs waiting for the vision worker before callers get "busy"
    timeout_s: float = 20.0  # a caller waits this long for its job


@dataclass(frozen=True)
class QualityConfig:
    min_face_px: int = 80  # the shorter side of the face box, in source pixels
    min_sharpness: float = 40.0  # variance of the Laplacian on the 150 px chip
    max_yaw_deg: float = 35.0
    max_pitch_deg: float = 30.0
    min_score: float = 0.6  # detector confidence (BlazeFace full range scores good faces 0.7-0.95)


@dataclass(frozen=True)
class StoreConfig:
    path: str = "enrolld.sqlite3"  # relative paths are under device.state_dir
    max_face_sets: int = 10
    default_capacity: int = 100_000
    keep_images: bool = False  # the cloud contracts keep features, not photos
    keep_chips: bool = True  # the aligned 150 px face chip as a small JPEG, for the web page


@dataclass(frozen=True)
class FrsConfig:
    project_id: str = "local"
    token: str = ""  # X-Auth-Token accepted when set
    access_key: str = ""  # AK/SK SDK-HMAC-SHA256 signing, accepted when both are set
    secret_key: str = ""
    clock_skew_s: int = 900


@dataclass(frozen=True)
class AccuAuthConfig:
    api_id: str = ""
    api_secret: str = ""


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"  # localhost only unless you open it on purpose
    port: int = 8066
    threads: int = 8
    max_body_mb: float = 12.0
    url_fetch_hosts: tuple[str, ...] = ()  # hosts image_url may fetch from; empty refuses image_url
    url_fetch_ports: tuple[int, ...] = (80, 443, 8080)  # ports image_url may name
    url_fetch_timeout_s: float = 10.0  # total time for one image_url fetch, connect to last byte
    # Connection model (Waitress): idle and slow sockets cost a descriptor, never a thread, and
    # every connection is closed once it exceeds one of these bounds.
    connection_limit: int = 1000  # open connections before Waitress stops accepting
    idle_timeout_s: float = 30.0  # a keep-alive connection with no request in progress
    header_timeout_s: float = 10.0  # from a request's first byte to the end of its headers
    body_timeout_s: float = 60.0  # from the end of the headers to the body's last byte
    max_header_kb: int = 64  # request line plus headers
    metrics_token: str = ""  # `Authorization: Bearer <this>` reads /metrics and nothing else (Prometheus)
    frs: FrsConfig = field(default_factory=FrsConfig)
    accuauth: AccuAuthConfig = field(default_factory=AccuAuthConfig)


@dataclass(frozen=True)
class WebConfig:
    enabled: bool = True  # the face library page at / (sign in with the appliance's API credentials)
    session_idle_s: int = 1800  # a signed-in page expires after this long without a request
    session_max_s: int = 43200  # and after this long whatever happens
    max_sessions: int = 32  # the oldest session is signed out beyond this
    secure_cookie: bool = False  # mark the session cookie Secure even on plain HTTP (behind an HTTPS proxy)


@dataclass(frozen=True)
class MqttConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""  # empty with tls = true: the system's CA bundle
    cert_file: str = ""  # client certificate for brokers that want mutual TLS
    key_file: str = ""
    client_id: str = ""  # empty: enrolld-<device.id>
    reconnect_min_s: float = 1.0  # backoff between reconnect attempts doubles from min to max
    reconnect_max_s: float = 60.0
    topic_prefix: str = "enrolld"
    keepalive_s: int = 30
    ha_discovery: bool = True
    ha_prefix: str = "homeassistant"
    ha_configuration_url: str = ""  # the device page's link in Home Assistant; empty: http://<host>:<api.port>/healthz
    outbox_limit: int = 10_000  # rows waiting for the broker before status says "full"; nothing is dropped
    include_embedding: bool = False
    include_thumbnail: bool = False


@dataclass(frozen=True)
class CaptureConfig:
    source: str = "none"  # none | picamera2 | opencv | folder
    device: str = "0"  # opencv: USB index, /dev/video path, GStreamer pipeline or RTSP URL
    folder: str = ""  # folder source: image files played in name order
    width: int = 1280
    height: int = 720
    burst_s: float = 2.0
    burst_max_frames: int = 20  # analyzed frames per burst, whatever the camera's frame rate
    face_set: str = "default"
    button_pin: int = -1  # GPIO (BCM) of the enrollment button; -1: none
    led_pin: int = -1
    debounce_s: float = 0.05
    led_active_high: bool = True


@dataclass(frozen=True)
class RecognizeConfig:
    """Camera recognition: who is in front of the camera, as `face.recognized` / `face.unknown`
    events. Off by default; needs a capture.source."""

    enabled: bool = False
    fps: float = 5.0  # frames taken from the camera per second (the motion gate looks at each)
    camera: str = ""  # names the camera in events; empty: capture.source
    face_sets: tuple[str, ...] = ()  # searched on every recognized frame; empty: every face set
    threshold: float = 0.93  # similarity at or above which the best match is that person
    cooldown_s: float = 30.0  # one event per person (or per unknown face) within this
    # The motion gate: a frame is analysed only when this fraction of a small grey thumbnail
    # changed by more than motion_pixel_delta grey levels since the last analysed frame.
    motion_fraction: float = 0.01
    motion_pixel_delta: int = 25
    idle_recheck_s: float = 10.0  # analyse a still scene again after this long anyway (0: never)
    # The recognition quality gate: looser than [quality], which guards enrollment.
    min_face_px: int = 40
    min_sharpness: float = 10.0
    max_yaw_deg: float = 50.0
    max_pitch_deg: float = 40.0
    min_score: float = 0.5
    max_faces: int = 3  # largest faces searched per frame
    include_chip: bool = False  # add the aligned face chip (base64 JPEG) to recognition events
    event_queue: int = 100  # recognition events held while the broker is away; the oldest go first
    recent_size: int = 50  # recognitions and unknowns kept for assign / reject
    recent_ttl_s: float = 3600.0  # ... and forgotten after this long
    assign_face_set: str = ""  # where `assign` enrolls; empty: capture.face_set
    reject_action: str = "flag"  # flag (the face no longer answers recognition) | remove (deleted)


@dataclass(frozen=True)
class Config:
    device: DeviceConfig = field(default_factory=DeviceConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    web: WebConfig = field(default_factory=WebConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    recognize: RecognizeConfig = field(default_factory=RecognizeConfig)

    @property
    def store_path(self) -> Path:
        path = Path(self.store.path)
        return path if path.is_absolute() else Path(self.device.state_dir) / path


CHOICES = {
    "vision.accelerator": ("auto", "cpu", "edgetpu", "gpu"),
    "vision.detector": ("full", "short"),
    "vision.detector_precision": ("float", "int8"),
    "vision.embedder": ("int8", "float16"),
    "capture.source": ("none", "picamera2", "opencv", "folder"),
    "recognize.reject_action": ("flag", "remove"),
}


def load(path: str | os.PathLike | None = None, *, environ=None) -> Config:
    """Read and validate a TOML file (None: built-in defaults), then apply secrets from
    the environment and systemd credentials. Every problem is reported at once."""
    data: dict = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
    environ = os.environ if environ is None else environ
    _overlay_secrets(data, environ)
    found: list[str] = []
    config = _build(Config, data, "", found)
    found += config_checks.problems(config)
    if found:
        raise _config_error(found, f"{path}: " if path is not None else "")
    return config


def from_dict(data: dict) -> Config:
    """The typed config of a dict (types, choices and unknown keys checked, not ranges)."""
    found: list[str] = []
    config = _build(Config, data, "", found)
    if found:
        raise _config_error(found)
    return config


def _config_error(found: list[str], where: str = "") -> ConfigError:
    """One line, every problem in it (the CLI's errors are one line on stderr)."""
    message = found[0] if len(found) == 1 else f"{len(found)} problems: " + "; ".join(found)
    error = ConfigError(where + message)
    error.problems = list(found)
    return error


def _build(cls, data, prefix: str, found: list[str]):
    """The dataclass from a table; a bad or unknown key is added to `found` and its default
    kept, so one pass names every problem."""
    if not isinstance(data, dict):
        found.append(f"{prefix.rstrip('.') or 'config'}: expected a table")
        return cls()
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            found.append(f"unknown key: {prefix}{key}{_suggestion(key, names, prefix)}")
    values = {}
    for name in names:
        if name in data:
            try:
                values[name] = _coerce(hints[name], data[name], prefix + name, found)
            except ConfigError as e:
                found.append(str(e))
    return cls(**values)


def _suggestion(key: str, names: list[str], prefix: str) -> str:
    """" (did you mean api.frs.project_id?)": a close name in the same table, else the same
    name in another table (a key put under the wrong section)."""
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {prefix}{close[0]}?)"
    elsewhere = [path for path in _all_keys(Config, "") if path.rsplit(".", 1)[-1] == key]
    if elsewhere:
        return f" (did you mean {' or '.join(elsewhere)}?)"
    return ""


def _all_keys(cls, prefix: str):
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            yield from _all_keys(hint, prefix + f.name + ".")
        else:
            yield prefix + f.name


def _coerce(hint, value, path: str, found: list[str]):
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path + ".", found)
    origin = typing.get_origin(hint)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list) or not all(isinstance(v, item) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{path}: expected a list of {'strings' if item is str else 'integers'}")
        return tuple(value)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover
        ok = True
    if not ok:
        raise ConfigError(f"{path}: expected {hint.__name__}, got {type(value).__name__}")
    if path in CHOICES and value not in CHOICES[path]:
        raise ConfigError(f"{path}: must be one of {', '.join(CHOICES[path])}; got {value!r}")
    return value


def _overlay_secrets(data: dict, environ) -> None:
    """ENROLLD_API_FRS_SECRET_KEY=... overrides api.frs.secret_key, and so on; a systemd
    credential file named like the dotted key (api.frs.secret_key) does the same."""
    cred_dir = environ.get("CREDENTIALS_DIRECTORY")
    for dotted in _secret_paths(Config, ""):
        env_name = "ENROLLD_" + dotted.replace(".", "_").upper()
        value = environ.get(env_name)
        if value is None and cred_dir:
            cred = Path(cred_dir) / dotted
            if cred.is_file():
                value = cred.read_text().strip()
        if value is not None:
            *parents, leaf = dotted.split(".")
            node = data
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value


def _secret_paths(cls, prefix: str):
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            yield from _secret_paths(hint, prefix + f.name + ".")
        elif f.name in SECRET_KEYS or f.name == "access_key" or f.name == "api_id":
            yield prefix + f.name


def redacted(config: Config) -> dict:
    """The config as a dict with every secret replaced, for logs and check-config."""

    def walk(obj):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                out[f.name] = walk(value)
            elif f.name in SECRET_KEYS and value:
                out[f.name] = "***"
            else:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    return walk(config)


def validate(config: Config) -> None:
    """Raise ConfigError naming every range, topic, file and pairing problem (config_checks)."""
    found = config_checks.problems(config)
    if found:
        raise _config_error(found)
