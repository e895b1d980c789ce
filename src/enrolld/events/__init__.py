"""Publishing the outbox over MQTT, with Home Assistant discovery."""
