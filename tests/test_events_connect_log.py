"""MQTT connection failures are said with their reason, once and then at most once a
minute, against a real Mosquitto that is down and then back."""

import logging
import time

from enrolld.config import MqttConfig
from enrolld.events.connect_log import ConnectFailureLog
from enrolld.events.mqtt import MqttLink


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def mqtt_lines(caplog):
    return [r for r in caplog.records if r.name == "enrolld.events.mqtt" and "cannot connect" in r.getMessage()]


def test_a_broker_that_is_down_is_reported_once_with_its_reason_then_the_recovery(mqtt_broker, caplog):
    caplog.set_level(logging.INFO, logger="enrolld.events.mqtt")
    mqtt_broker.stop()
    link = MqttLink(MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port, reconnect_min_s=0.05, reconnect_max_s=0.1), "d")
    link.start()
    try:
        assert wait_until(lambda: link.failures._failures >= 4), "paho did not retry"
        lines = mqtt_lines(caplog)
        assert len(lines) == 1, [r.getMessage() for r in lines]  # four failures, one line
        assert lines[0].levelno == logging.WARNING
        assert f"{mqtt_broker.host}:{mqtt_broker.port}: Connection refused" in lines[0].getMessage()
        assert link.last_error == "Connection refused"

        mqtt_broker.start()
        assert link.wait_connected(20)
        assert link.last_error is None
        assert wait_until(lambda: any("after" in r.getMessage() and "failed attempts" in r.getMessage() for r in caplog.records))
    finally:
        link.close(timeout_s=1)


def test_an_unresolvable_host_says_so(caplog):
    caplog.set_level(logging.WARNING, logger="enrolld.events.mqtt")
    link = MqttLink(MqttConfig(host="broker.invalid", port=1883, reconnect_min_s=0.05, reconnect_max_s=0.1), "d")
    link.start()
    try:
        assert wait_until(lambda: mqtt_lines(caplog))
        message = mqtt_lines(caplog)[0].getMessage()
        assert "broker.invalid:1883" in message and ("not known" in message or "resolution" in message.lower()), message
    finally:
        link.close(timeout_s=1)


def test_the_same_reason_is_repeated_once_a_minute_and_a_new_reason_at_once(caplog):
    caplog.set_level(logging.INFO, logger="enrolld.events.mqtt")
    now = [0.0]
    failures = ConnectFailureLog("b:1883", every_s=60, clock=lambda: now[0])
    for second in range(0, 150):  # a retry every second for 150 s
        now[0] = float(second)
        failures.failed("Connection refused")
    failures.failed("TLS: CERTIFICATE_VERIFY_FAILED")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4, messages  # at 0 s, 60 s, 120 s, and the new reason
    assert "59 more failed attempts since the last report" in messages[1]
    assert "CERTIFICATE_VERIFY_FAILED" in messages[3]
    failures.connected()
    assert "after 151 failed attempts" in caplog.records[-1].getMessage()
