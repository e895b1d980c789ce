"""enrolld: a face-enrollment appliance daemon for edge hardware."""

__version__ = "0.1.0"
