"""sd_notify over a real unix datagram socket, as systemd would listen on it."""

import os
import socket
import time

import pytest

from enrolld.sdnotify import Notifier


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(3)
    yield path, sock
    sock.close()


def test_ready_status_and_stopping_arrive_as_datagrams(notify_socket):
    path, sock = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.ready("serving")
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving"
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"


def test_without_notify_socket_everything_is_a_no_op():
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready()
    notifier.start_watchdog(lambda: True)  # no thread, no error
    notifier.stop_watchdog()


def test_watchdog_pings_only_while_healthy(notify_socket):
    path, sock = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    assert notifier.watchdog_interval_s == pytest.approx(0.05)
    healthy = {"ok": True}
    notifier.start_watchdog(lambda: healthy["ok"])
    try:
        assert sock.recv(4096) == b"WATCHDOG=1"
        healthy["ok"] = False
        sock.settimeout(0.3)
        seen = []
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:  # drain anything sent before the flip
            try:
                seen.append(sock.recv(4096))
            except socket.timeout:
                break
        assert b"STATUS=unhealthy: watchdog pings withheld" in seen
        sock.settimeout(0.25)
        with pytest.raises(socket.timeout):  # no ping for several intervals
            while True:
                assert sock.recv(4096) != b"WATCHDOG=1"
        healthy["ok"] = True
        sock.settimeout(2)
        assert sock.recv(4096) == b"WATCHDOG=1"
    finally:
        notifier.stop_watchdog()


def test_watchdog_for_another_pid_is_ignored():
    notifier = Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
    assert notifier.watchdog_interval_s is None
