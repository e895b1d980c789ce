"""What a configuration must satisfy beyond its types: ranges, MQTT topic characters, files
that must exist, keys that go together. `problems(config)` returns every one of them, each
named by its dotted key, so `enrolld check-config` reports them all in one run instead of one
per edit-and-retry (and `serve` refuses them before anything starts)."""

from __future__ import annotations

from pathlib import Path

# Inclusive (low, high) for numbers; None leaves that side open.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "device.node": (0, 1023),
    "device.stop_timeout_s": (0.1, None),
    "vision.threads": (1, 64),
    "vision.min_detection_score": (0.0, 1.0),
    "vision.max_image_pixels": (1, None),
    "vision.max_image_side": (1, None),
    "vision.queue_size": (1, None),
    "vision.timeout_s": (0.1, None),
    "quality.min_face_px": (1, None),
    "quality.min_sharpness": (0.0, None),
    "quality.max_yaw_deg": (0.0, 90.0),
    "quality.max_pitch_deg": (0.0, 90.0),
    "quality.min_score": (0.0, 1.0),
    "store.max_face_sets": (1, None),
    "store.default_capacity": (1, None),
    "api.port": (1, 65535),
    "api.threads": (1, 256),
    "api.max_body_mb": (0.001, None),
    "api.frs.clock_skew_s": (0, None),
    "mqtt.port": (1, 65535),
    "mqtt.reconnect_min_s": (0.001, None),
    "mqtt.reconnect_max_s": (0.001, None),
    "mqtt.keepalive_s": (0, 65535),  # 0: no keepalive (MQTT allows it)
    "mqtt.outbox_limit": (1, None),
    "capture.width": (1, None),
    "capture.height": (1, None),
    "capture.burst_s": (0.01, None),
    "capture.burst_max_frames": (1, None),
    "capture.button_pin": (-1, 63),
    "capture.led_pin": (-1, 63),
    "capture.debounce_s": (0.0, 10.0),
    "web.session_idle_s": (1, None),
    "web.session_max_s": (1, None),
    "web.max_sessions": (1, None),
}

# MQTT forbids the wildcards + and # and NUL in topic names; '/' would split a level.
TOPIC_WILDCARDS = ("+", "#", "\0")


def _get(config, dotted: str):
    value = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _range_problem(key: str, value, low, high) -> str | None:
    if (low is None or value >= low) and (high is None or value <= high):
        return None
    if low is not None and high is not None:
        return f"{key}: must be between {low} and {high}; got {value}"
    if low is not None:
        return f"{key}: must be at least {low}; got {value}"
    return f"{key}: must be at most {high}; got {value}"


def _topic_problems(key: str, value: str, *, levels: bool) -> list[str]:
    """levels: a prefix may hold '/' (several topic levels); a single level may not."""
    if not value:
        return [f"{key}: must not be empty (it is part of every MQTT topic)"]
    bad = [c for c in TOPIC_WILDCARDS if c in value] + ([] if levels else ["/"] if "/" in value else [])
    if bad:
        shown = " ".join(repr(c) for c in bad)
        return [f"{key}: {value!r} holds {shown}, which MQTT topic {'names' if levels else 'levels'} cannot contain"]
    if levels and (value.startswith("/") or value.endswith("/") or "//" in value):
        return [f"{key}: {value!r} has an empty topic level"]
    return []


def _file_problem(key: str, value: str, *, folder: bool = False) -> str | None:
    if not value:
        return None
    path = Path(value)
    if folder and not path.is_dir():
        return f"{key}: no such folder: {value}"
    if not folder and not path.is_file():
        return f"{key}: no such file: {value}"
    return None


def problems(config) -> list[str]:
    found: list[str] = []
    for key, (low, high) in RANGES.items():
        problem = _range_problem(key, _get(config, key), low, high)
        if problem:
            found.append(problem)

    device, mqtt, api, capture = config.device, config.mqtt, config.api, config.capture
    found += _topic_problems("device.id", device.id, levels=False)
    found += _topic_problems("mqtt.topic_prefix", mqtt.topic_prefix, levels=True)
    if mqtt.ha_discovery:
        found += _topic_problems("mqtt.ha_prefix", mqtt.ha_prefix, levels=True)
    if mqtt.ha_configuration_url and not mqtt.ha_configuration_url.startswith(("http://", "https://", "homeassistant://")):
        found.append("mqtt.ha_configuration_url: must start with http://, https:// or homeassistant://")
    if not mqtt.host:
        found.append("mqtt.host: must not be empty")
    if not api.host:
        found.append("api.host: must not be empty (127.0.0.1 serves this machine only)")
    if mqtt.reconnect_max_s < mqtt.reconnect_min_s:
        found.append("mqtt.reconnect_max_s: must not be below mqtt.reconnect_min_s")
    if bool(mqtt.cert_file) != bool(mqtt.key_file):
        found.append("mqtt: cert_file and key_file must be set together")
    if mqtt.enabled:
        for key in ("ca_file", "cert_file", "key_file"):
            problem = _file_problem(f"mqtt.{key}", getattr(mqtt, key))
            if problem:
                found.append(problem)
        if not mqtt.tls and (mqtt.ca_file or mqtt.cert_file):
            found.append("mqtt.tls: must be true when mqtt.ca_file or mqtt.cert_file is set (they are used only over TLS)")
    if api.connection_limit < api.threads + 8:
        found.append("api.connection_limit: must leave room above api.threads (at least threads + 8)")
    for key in ("idle_timeout_s", "header_timeout_s", "body_timeout_s", "url_fetch_timeout_s"):
        if getattr(api, key) <= 0:
            found.append(f"api.{key}: must be positive")
    if not 8 <= api.max_header_kb <= 1024:
        found.append(f"api.max_header_kb: must be between 8 and 1024; got {api.max_header_kb}")
    if any(not 1 <= port <= 65535 for port in api.url_fetch_ports):
        found.append("api.url_fetch_ports: ports must be between 1 and 65535")
    frs = api.frs
    if bool(frs.access_key) != bool(frs.secret_key):
        found.append("api.frs: access_key and secret_key must be set together")
    if any(not host.strip() for host in api.url_fetch_hosts):
        found.append("api.url_fetch_hosts: holds an empty host name")
    vision = config.vision
    for key, accelerator in (("edgetpu_library", "edgetpu"), ("gpu_delegate_library", "gpu")):
        library = getattr(vision, key)
        # a bare name is the dynamic loader's to find; a path must be there
        if vision.accelerator == accelerator and "/" in library:
            problem = _file_problem(f"vision.{key}", library)
            if problem:
                found.append(problem)
    problem = _file_problem("vision.models_dir", config.vision.models_dir, folder=True)
    if problem:
        found.append(problem)
    if capture.source == "folder":
        if not capture.folder:
            found.append("capture.folder: must be set when capture.source = \"folder\"")
        else:
            problem = _file_problem("capture.folder", capture.folder, folder=True)
            if problem:
                found.append(problem)
    if capture.button_pin >= 0 and capture.button_pin == capture.led_pin:
        found.append("capture.led_pin: must not be the same GPIO as capture.button_pin")
    if not capture.face_set:
        found.append("capture.face_set: must not be empty")
    if config.web.session_max_s < config.web.session_idle_s:
        found.append("web.session_max_s: must not be below web.session_idle_s")
    return found + _recognize_problems(config)


def _recognize_problems(config) -> list[str]:
    r, found = config.recognize, []
    if r.enabled and config.capture.source == "none":
        found.append("recognize.enabled: needs a camera (capture.source)")
    if r.fps <= 0 or r.event_queue < 1 or r.max_faces < 1:
        found.append("recognize.fps, event_queue and max_faces: must be positive")
    if r.recent_size < 0:
        found.append("recognize.recent_size: must not be negative")
    if not 0.0 <= r.threshold <= 1.0 or not 0.0 <= r.motion_fraction <= 1.0:
        found.append("recognize.threshold and recognize.motion_fraction: must be between 0 and 1")
    return found
