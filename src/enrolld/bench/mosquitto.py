"""A private Mosquitto broker on 127.0.0.1, for `enrolld bench events` and the test suite.

Never used by the appliance itself (it talks to the broker in `[mqtt]`); it exists so that the
benchmark and the tests measure against a real broker rather than a fake one.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from ..errors import EnrolldError

SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin")


class BrokerError(EnrolldError):
    """Mosquitto is missing or would not start."""


def find_mosquitto() -> str | None:
    """The mosquitto binary: PATH first, then the sbin folders Debian and Homebrew use
    (Debian installs it to /usr/sbin, which is often not on a normal user's PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for folder in SEARCH_PATH:
        candidate = Path(folder) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MosquittoBroker:
    """One mosquitto process with a config written to `workdir`. The port stays the same
    across stop()/start(), so clients see an outage and a recovery, not a new broker."""

    def __init__(
        self,
        workdir: str | os.PathLike,
        *,
        port: int | None = None,
        persistence: bool = False,
        listener_options: tuple[str, ...] = (),
    ):
        binary = find_mosquitto()
        if binary is None:
            raise BrokerError("mosquitto not found in PATH or /usr/sbin: apt-get install mosquitto")
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.persistence = persistence
        self.listener_options = tuple(listener_options)  # e.g. password_file, certfile (tests)
        self.process: subprocess.Popen | None = None
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            "per_listener_settings true",
            f"listener {self.port} 127.0.0.1",
            *self.listener_options,
            *(() if any(o.startswith("allow_anonymous") for o in self.listener_options) else ("allow_anonymous true",)),
            # persistence keeps sessions across a restart: a test subscriber with a persistent
            # session then cannot miss what the daemon publishes before it reconnects.
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            # Started as root (CI containers), mosquitto would switch to the "mosquitto" user and
            # then fail to read or write files in a private tmp folder.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "max_queued_messages 100000",
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, timeout_s: float = 10.0) -> None:
        if self.running:
            return
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"mosquitto exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on port {self.port} within {timeout_s}s")

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: mosquitto saves its persistence file, if any
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> "MosquittoBroker":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
