"""Frame sources, the enrollment button and the enrollment flow."""
