"""Shared pytest fixtures."""

import os

# MQTT: a real Mosquitto broker and a recording subscriber, as a plugin rather than names
# imported here for their side effect.
pytest_plugins = ["mqtt_broker", "browser"]

# OpenBLAS's busy-waiting threads make numpy crawl when another process holds a core (CI has
# two); one thread is faster there and changes no result.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# --- Store and API (tests/test_store*.py, test_index.py, test_api_*.py, test_auth.py) ---
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from enrolld import config as config_mod  # noqa: E402
from enrolld.vision.types import Box, Face, Quality  # noqa: E402


def make_config(tmp_path, **sections):
    """A Config whose state lives in tmp_path; keyword args are TOML-like section dicts,
    e.g. make_config(tmp_path, store={"max_face_sets": 2})."""
    data = {"device": {"state_dir": str(tmp_path)}, "mqtt": {"enabled": False}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config_mod.from_dict(data)


def random_unit(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def analysed_face(embedding=None, *, seed: int = 0, box=(10, 20, 120, 140), passed=True, reasons=()) -> Face:
    """A Face as the pipeline returns it, for store tests (the store does not look at pixels)."""
    quality = Quality(passed, tuple(reasons), min(box[2:]), 120.0, 3.0, -2.0, 0.97)
    emb = random_unit(seed) if embedding is None else np.asarray(embedding, np.float32)
    return Face(Box(*box), np.zeros((6, 2), np.float32), 0.97, quality, emb)


@pytest.fixture
def store_config(tmp_path):
    return make_config(tmp_path)


@pytest.fixture
def face_store(store_config):
    from enrolld.store.facestore import FaceStore

    store = FaceStore(store_config)
    yield store
    store.close()



# Credentials the API tests use; never real ones.
FRS_PROJECT, FRS_TOKEN, FRS_AK, FRS_SK = "proj0123", "test-token", "TESTACCESSKEY", "test-secret-key"
ACCU_ID, ACCU_SECRET = "accu-id", "accu-secret"
API_SECTIONS = {
    "api": {"frs": {"project_id": FRS_PROJECT, "token": FRS_TOKEN, "access_key": FRS_AK, "secret_key": FRS_SK},
            "accuauth": {"api_id": ACCU_ID, "api_secret": ACCU_SECRET}, "max_body_mb": 12.0, "threads": 4},
}


@pytest.fixture(scope="session")
def vision_worker():
    """The real pipeline (real TFLite models) behind the real worker, loaded once."""
    from enrolld.vision.pipeline import build_pipeline
    from enrolld.vision.worker import VisionWorker

    config = config_mod.from_dict({})
    worker = VisionWorker(build_pipeline(config), queue_size=config.vision.queue_size, timeout_s=config.vision.timeout_s)
    yield worker
    worker.close()


class RunningApi:
    """A store, the Flask app and a Waitress server on a free port, in a thread."""

    def __init__(self, config, worker):
        import threading

        from enrolld.api.app import ApiServices, create_app
        from enrolld.api.server import make_server
        from enrolld.store.facestore import FaceStore

        self.config = config
        self.store = FaceStore(config)
        self.app = create_app(config, ApiServices(store=self.store, vision=worker))
        self.server = make_server(self.app, config, host="127.0.0.1", port=0)
        self.port = self.server.effective_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def close(self):
        if not self.thread.is_alive():
            return
        self.server.stop()
        self.thread.join(5)
        self.store.close()


@pytest.fixture
def api_factory(tmp_path, vision_worker):
    """Start servers with given config sections (merged over API_SECTIONS); stopped at teardown."""
    running = []

    def start(state=None, **sections):
        import copy

        def merge(into, values):
            for key, value in values.items():
                if isinstance(value, dict) and isinstance(into.get(key), dict):
                    merge(into[key], value)
                else:
                    into[key] = value
            return into

        merged = merge(copy.deepcopy(API_SECTIONS), sections)
        api = RunningApi(make_config(state or tmp_path, **merged), vision_worker)
        running.append(api)
        return api

    yield start
    for api in running:
        api.close()


@pytest.fixture
def api(api_factory):
    return api_factory()


def jpeg(image_rgb, quality: int = 90) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image_rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


@pytest.fixture(scope="session")
def astronaut_rgb():
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut_rgb):
    return jpeg(astronaut_rgb)

# --- GPIO: gpiozero's mock pin factory, the stand-in for a Pi's header ---


@pytest.fixture
def mock_pins():
    gpiozero = pytest.importorskip("gpiozero")
    from gpiozero.pins.mock import MockFactory

    previous = gpiozero.Device.pin_factory
    gpiozero.Device.pin_factory = MockFactory()
    yield gpiozero.Device.pin_factory
    gpiozero.Device.pin_factory.close()
    gpiozero.Device.pin_factory = previous

