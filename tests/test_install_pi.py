"""The Raspberry Pi install recipe of docs/deploy.md, reproduced on Debian 12 (the base of
Raspberry Pi OS Bookworm): apt's numpy 1.24 and an apt module compiled against numpy 1.x
(python3-bottleneck, standing in for picamera2's simplejpeg) must stay importable next to
enrolld in a `--system-site-packages` venv after `pip install '.[pi]'`.

This builds a real venv with Debian's own python3 and pip (pip's cache makes it take seconds
once the wheels are cached), so it is marked slow but runs by default. scripts/bootstrap --dev
installs the apt packages it needs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sample_images import astronaut_jpeg

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"
RECIPE_TIMEOUT_S = 900  # a cold pip cache downloads OpenCV and LiteRT wheels

pytestmark = pytest.mark.slow


def _system_python_has_apt_numpy() -> str:
    """Why the recipe cannot run here, or "" when it can."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} is not here (not a Debian-like system)"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import venv, ensurepip, numpy, bottleneck; print(numpy.__version__)"],
        capture_output=True, text=True, env=_clean_env(),
    )
    if probe.returncode != 0:
        return "apt's python3-venv, python3-numpy and python3-bottleneck are not installed (scripts/bootstrap --dev)"
    return ""


def _clean_env() -> dict:
    """The environment a user's shell would have: none of the test run's PYTHONPATH or venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args, cwd, timeout=RECIPE_TIMEOUT_S):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=_clean_env(), timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}"
    return result


def _clone_checkout(target: Path) -> None:
    """What `git clone` of this branch would give, including uncommitted edits under test."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def test_pi_recipe_keeps_apt_numpy_and_its_modules(tmp_path):
    why_not = _system_python_has_apt_numpy()
    if why_not:
        pytest.skip(why_not)
    src, venv = tmp_path / "src", tmp_path / "venv"
    _clone_checkout(src)

    # docs/deploy.md, "Raspberry Pi OS": the same three commands.
    _run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    _run([venv / "bin" / "pip", "install", "-q", f"{src}[pi]"], tmp_path)
    _run([venv / "bin" / "enrolld", "models", "fetch"], tmp_path)

    probe = _run([venv / "bin" / "python", "-c", (
        "import json, numpy, bottleneck, cv2, faiss, enrolld, enrolld.vision.pipeline\n"
        "from enrolld.store.index import FaceSetIndex\n"
        "mean = float(bottleneck.nanmean(numpy.array([1.0, float('nan'), 3.0])))\n"
        "vectors = numpy.random.default_rng(0).standard_normal((300, 128)).astype(numpy.float32)\n"
        "vectors /= numpy.linalg.norm(vectors, axis=1, keepdims=True)\n"
        "index = FaceSetIndex()\n"
        "index.add_many(range(300), vectors, ['m'] * 300, [0.0] * 300)\n"
        "nearest = [int(i) for i in index.search(vectors[42], 3)[0]]\n"
        "print(json.dumps({'numpy': numpy.__version__, 'numpy_file': numpy.__file__,\n"
        "    'bottleneck_file': bottleneck.__file__, 'cv2': cv2.__version__,\n"
        "    'enrolld_file': enrolld.__file__, 'nanmean': mean, 'faiss': faiss.__version__,\n"
        "    'nearest': nearest, 'truth': [int(i) for i in numpy.argsort(-(vectors @ vectors[42]))[:3]]}))"
    )], tmp_path)
    found = json.loads(probe.stdout)
    assert found["numpy"].startswith("1."), found
    assert found["numpy_file"].startswith("/usr/lib/python3/dist-packages/"), found  # apt's, not a wheel
    assert found["bottleneck_file"].startswith("/usr/lib/python3/dist-packages/"), found
    assert found["nanmean"] == 2.0
    assert found["faiss"].startswith("1.8"), found  # the numpy-1 build the pi extra pins
    assert found["nearest"] == found["truth"] and found["nearest"][0] == 42, found  # the search index runs on it
    assert found["enrolld_file"].startswith(str(venv)), found  # the installed package, not the checkout

    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    analysed = _run([venv / "bin" / "enrolld", "analyze", str(photo)], tmp_path, timeout=120)
    assert "1 face(s)" in analysed.stdout, analysed.stdout
    assert "quality PASS" in analysed.stdout, analysed.stdout
